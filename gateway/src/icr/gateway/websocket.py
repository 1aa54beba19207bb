"""The websocket side of /graphql (graphql-transport-ws): who the connection speaks for, and
its end when the token does.

Browsers cannot set headers on a websocket, so the token comes in `connection_init`'s payload
(`{"authorization": "Bearer <token>"}`); an Authorization header on the upgrade works too. It
is verified before the connection is acknowledged; a connection without a valid one is closed
with 4403. When the token expires the socket is closed (4401): the client reconnects with a
fresh one, and every event until then was checked with the old one by the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UnsetType

from icr.gateway import ide
from icr.gateway.clients import Clients
from icr.gateway.context import Context
from icr.kit.auth import Identity, InvalidToken, KeysUnavailable, TokenVerifier

log = logging.getLogger(__name__)
EXPIRED = 4401
_WATCHDOGS: set[asyncio.Task[None]] = set()  # referenced until done (or cancelled at exit)


async def connection_context(connection: HTTPConnection) -> Context:
    """The context of GraphiQL's page and of a websocket: the identity comes at connect."""
    clients: Clients = connection.app.state.clients
    return Context(clients, None, "a bearer token is required in connection_init")


def _token(params: Any, connection: HTTPConnection) -> str | None:
    value = None
    if isinstance(params, dict):
        value = params.get("authorization") or params.get("Authorization")
        if value is None and isinstance(params.get("token"), str):
            value = f"Bearer {params['token']}"
    value = value if isinstance(value, str) else connection.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _close_at_expiry(websocket: WebSocket, identity: Identity) -> None:
    expires = identity.claims.get("exp")
    if not isinstance(expires, int | float):
        return
    await asyncio.sleep(max(0.0, float(expires) - time.time()))
    log.info("websocket closed at token expiry", extra={"subject": identity.subject})
    with contextlib.suppress(Exception):  # the client may have gone already
        await websocket.close(code=EXPIRED, reason="token expired")


class LiveRouter(GraphQLRouter[Context, None]):
    """Strawberry's router with the token checked at connection_init, and GraphiQL's page
    loading its files from the gateway (`ide_assets`) instead of a CDN."""

    ide_assets: Path | None = None
    _ide_ready = False

    @property
    def graphql_ide_html(self) -> str:
        return ide.local_page()

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        if not self._ide_ready:
            absent = ide.missing(self.ide_assets) if self.ide_assets else ["all"]
            if absent:
                # No fallback to the CDN: say how to install them instead.
                message = (
                    f"GraphiQL's files are not installed ({len(absent)} missing in "
                    f"{self.ide_assets}): run `make install`."
                )
                return HTMLResponse(message, status_code=503)
            self._ide_ready = True
        return HTMLResponse(self.graphql_ide_html)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        connection = context.request
        assert connection is not None
        verifier: TokenVerifier = connection.app.state.verifier
        try:
            identity = await verifier.verify(_token(context.connection_params, connection))
        except (InvalidToken, KeysUnavailable) as exc:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": str(exc)}
            ) from exc
        context.identity, context.refusal = identity, None
        if isinstance(connection, WebSocket):
            watchdog = asyncio.create_task(_close_at_expiry(connection, identity))
            _WATCHDOGS.add(watchdog)
            watchdog.add_done_callback(_WATCHDOGS.discard)
        return await super().on_ws_connect(context)
