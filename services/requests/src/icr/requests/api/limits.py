"""A tighter body limit than the kit's for every route but the bulk import.

The kit refuses any body over `max_body_bytes` (sized for the import); commands and reads
here carry a few kilobytes, so they are held to `max_command_bytes` before a route parses
anything.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from icr.kit.http import problem

_WITH_BODY = {"POST", "PUT", "PATCH"}


class CommandBodyLimit:
    """Reads at most `limit` bytes of a body (exempt paths aside), then hands it on.

    Content-Length is checked first; chunked bodies are counted as they arrive, so a client
    cannot get past the limit by leaving the length out.
    """

    def __init__(self, app: ASGIApp, *, limit: int, exempt: Collection[str]) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WITH_BODY
            or scope["path"] in self.exempt
        ):
            await self.app(scope, receive, send)
            return
        limit = self.limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await problem(400, "invalid_input", "invalid Content-Length")(scope, receive, send)
                return
            if size > limit:
                await self._refuse(limit, scope, receive, send)
                return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await self._refuse(limit, scope, receive, send)
                return
            more = message.get("more_body", False)
        body, delivered = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "payload_too_large", f"the request body exceeds {limit} bytes", limit=limit
        )
        await response(scope, receive, send)
