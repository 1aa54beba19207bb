"""HTTP plumbing shared by services: causation middleware and problem responses."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from icr.kit import context, metrics
from icr.kit.context import Causation, new_causation, parse_traceparent
from icr.kit.logging import log_context


def problem(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    """An error body every client can rely on: a stable code, a message, optional details."""
    return JSONResponse(
        {"error": {"code": code, "message": message, **details}}, status_code=status
    )


def install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def causation_and_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        cause = parse_traceparent(request.headers.get("traceparent")) or new_causation()
        correlation = request.headers.get("x-correlation-id")
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
