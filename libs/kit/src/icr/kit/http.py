"""HTTP plumbing shared by services: causation middleware and problem responses."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from icr.kit import context, metrics
from icr.kit.context import Causation, new_causation, parse_traceparent
from icr.kit.logging import log_context


def problem(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    """An error body every client can rely on: a stable code, a message, optional details."""
    return JSONResponse(
        {"error": {"code": code, "message": message, **details}}, status_code=status
    )


async def validation_problem(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors in the same shape as the services' own: one entry per field."""
    assert isinstance(exc, RequestValidationError)
    fields = []
    for error in exc.errors():
        # ("body", "form", "x") -> "form.x"; ("query", "limit") -> "limit"
        loc = [str(p) for p in error.get("loc", ())[1:]] or ["input"]
        fields.append(
            {"field": ".".join(loc), "code": str(error.get("type")), "message": error.get("msg")}
        )
    names = ", ".join(f["field"] for f in fields)
    return problem(422, "invalid_input", f"invalid input: {names}", fields=fields)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, before a route reads them.

    Checks Content-Length up front and counts chunked bodies as they stream in, so a client
    cannot make a service buffer an unbounded payload.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counting, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "payload_too_large", f"request body is larger than {self.limit} bytes"
        )
        await response(scope, receive, send)


def install_middleware(app: FastAPI, *, max_body_bytes: int = 1_000_000) -> None:
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.middleware("http")
    async def causation_and_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        cause = parse_traceparent(request.headers.get("traceparent")) or new_causation()
        # Every flow gets a correlation id: the caller's, or the trace's, which every event and
        # log line of the flow then shares.
        correlation = request.headers.get("x-correlation-id") or cause.trace_id
        cause = Causation(cause.trace_id, cause.span_id, correlation_id=correlation)
        request_id = request.headers.get("x-request-id") or cause.span_id
        started = time.perf_counter()
        with context.causation(cause), log_context(request_id=request_id):
            response = await call_next(request)
        route = request.scope.get("route")
        metrics.HTTP_REQUESTS.labels(
            request.method, getattr(route, "path", "unmatched"), str(response.status_code)
        ).observe(time.perf_counter() - started)
        response.headers["traceparent"] = cause.traceparent
        return response
