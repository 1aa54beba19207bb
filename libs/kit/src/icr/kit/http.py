"""HTTP plumbing shared by services: causation, deadlines, outages and problem responses."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import pymongo
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, PyMongoError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from icr.kit import context, metrics
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)


def problem(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **details: Any
) -> JSONResponse:
    """An error body every client can rely on: a stable code, a message, optional details."""
    return JSONResponse(
        {"error": {"code": code, "message": message, **details}},
        status_code=status,
        headers=headers,
    )


_KAFKA_UNAVAILABLE = (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the store or broker cannot be reached right now".

    PyMongo: every ConnectionFailure (AutoReconnect and its internal _OperationCancelled,
    NetworkTimeout, ServerSelectionTimeoutError, WaitQueueTimeoutError) and every error PyMongo
    itself flags as a timeout (ExecutionTimeout, WTimeoutError, client-side operation timeouts).
    aiokafka: connection and timeout errors, and any error it marks retriable.
    """
    if isinstance(exc, BaseExceptionGroup):
        return all(is_unavailable(e) for e in exc.exceptions)
    if isinstance(exc, PyMongoError):
        return isinstance(exc, ConnectionFailure) or exc.timeout
    if isinstance(exc, _KAFKA_UNAVAILABLE):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


@dataclasses.dataclass(frozen=True)
class Deadlines:
    """How long a request may take before it answers 503; `bulk_paths` (imports) get longer."""

    seconds: float = 5.0
    retry_after_seconds: int = 2
    bulk_paths: Sequence[str] = ()
    bulk_seconds: float = 120.0
    max_abandoned: int = 1000
    """Past this much work still running after its deadline, new requests answer 503 at once."""
    cancel: bool = False
    """Cancel work at its deadline instead of leaving it to end by itself: for apps with no
    store (the gateway), where nothing makes cancelling unsafe. It spares a task per request."""

    @classmethod
    def of(cls, settings: ServiceSettings, bulk_paths: Sequence[str] = ()) -> Deadlines:
        return cls(
            seconds=settings.request_timeout_seconds,
            retry_after_seconds=settings.retry_after_seconds,
            bulk_paths=tuple(bulk_paths),
            bulk_seconds=settings.bulk_request_timeout_seconds,
            max_abandoned=settings.max_abandoned_requests,
        )

    def store_seconds(self, seconds: float) -> float:
        """PyMongo's budget: the deadline less a margin in which a store timeout is answered."""
        return seconds - min(0.5, seconds / 5)

    def for_path(self, path: str) -> float:
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.bulk_paths):
            return self.bulk_seconds
        return self.seconds


class Unavailable:
    """Answers 503 with Retry-After, in the services' error shape, when the store or broker is
    down or the request outlives its deadline, instead of hanging or answering a bare 500.
    While more than `max_abandoned` requests' work is still running past its deadline, new
    requests (but health and metrics) answer that 503 at once: load is shed, not piled up.

    The deadline is enforced twice. PyMongo's client-side operation timeout (`pymongo.timeout`)
    bounds server selection, pool checkout and every round trip of the request's store calls; it
    expires a little before the deadline so store calls end with PyMongo's own timeout errors,
    not by cancellation (a cancelled PyMongo pool wait can block on re-acquiring the pool's lock).
    An asyncio deadline is the backstop for anything else that waits: at the deadline the request
    is answered 503 even if its work has not unwound yet; that work is left to end by itself
    (not cancelled, see `_abandon`; `icr_http_abandoned_requests` counts it) and whatever it
    still sends is dropped. Writes are single atomic documents (state and outbox together), so a
    request cut by its deadline leaves the whole write or none of it; a write whose acknowledgement
    was lost may still have landed, and a retry meets the usual 409 / idempotent paths.
    """

    def __init__(self, app: ASGIApp, deadlines: Deadlines) -> None:
        self.app = app
        self.deadlines = deadlines
        self._abandoned: set[asyncio.Future[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(self._abandoned) >= self.deadlines.max_abandoned and not _exempt(scope):
            # Abandoned work normally ends within moments of its deadline; this much of it means
            # something waits outside PyMongo's deadline. Starting more would pile up without
            # bound, so shed load (health and metrics still answer, to show why).
            metrics.HTTP_SHED.inc()
            message = "too many earlier requests are still unwinding; try again shortly"
            await self._refuse(scope, receive, send, message)
            return
        started = answered = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the deadline answered this request already
            started = started or message["type"] == "http.response.start"
            await send(message)

        seconds = self.deadlines.for_path(scope.get("path", ""))
        if self.deadlines.cancel:
            await self._cancelling(scope, receive, send, seconds)
            return
        with pymongo.timeout(self.deadlines.store_seconds(seconds)):
            # The task copies this context, PyMongo's deadline included.
            work = asyncio.ensure_future(self.app(scope, receive, tracking))
        try:
            await asyncio.wait({work}, timeout=seconds)
        except asyncio.CancelledError:
            work.cancel()  # the server or client gave up on this request
            raise
        if not work.done():
            if started:  # a response is under way: let it finish
                await work
                return
            answered = True
            self._abandon(work)
            log.warning("request deadline exceeded", extra={"deadline_seconds": seconds})
            message = _late(seconds)
            await self._refuse(scope, receive, send, message)
            return
        error = work.exception()
        if error is None:
            return
        if started or not (isinstance(error, TimeoutError) or is_unavailable(error)):
            raise error
        log.warning("store or broker unavailable", extra={"error": repr(error)[:300]})
        message = OUTAGE
        await self._refuse(scope, receive, send, message)

    async def _cancelling(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(seconds):
                await self.app(scope, receive, tracking)
            return
        except TimeoutError:
            if started:
                raise  # cut mid-response: the server closes the connection
            log.warning("request deadline exceeded", extra={"deadline_seconds": seconds})
            message = _late(seconds)
        except Exception as exc:
            if started or not is_unavailable(exc):
                raise
            log.warning("store or broker unavailable", extra={"error": repr(exc)[:300]})
            message = OUTAGE
        await self._refuse(scope, receive, send, message)

    def _abandon(self, work: asyncio.Future[None]) -> None:
        """Leave work past its deadline to end on its own (its store calls end at PyMongo's
        deadline), referenced until then so its outcome is collected. It is not cancelled:
        a cancellation inside PyMongo's pool can leave the pool's lock held for good."""
        self._abandoned.add(work)
        metrics.HTTP_ABANDONED.inc()

        def collected(done: asyncio.Future[None]) -> None:
            self._abandoned.discard(done)
            metrics.HTTP_ABANDONED.dec()
            if not done.cancelled() and done.exception() is not None:
                log.info("abandoned request ended", extra={"error": repr(done.exception())[:300]})

        work.add_done_callback(collected)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, message: str) -> None:
        retry = str(max(1, math.ceil(self.deadlines.retry_after_seconds)))
        response = problem(503, "unavailable", message, headers={"Retry-After": retry})
        await response(scope, receive, send)


OUTAGE = "a store or broker this service needs is unavailable; try again shortly"


def _late(seconds: float) -> str:
    return f"the request did not finish within {seconds:g}s; try again shortly"


def _exempt(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return path.startswith("/health") or path == "/metrics"


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
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
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


class CausationAndMetrics:
    """Per request: the causal context (trace, correlation and request ids) that logs and
    events read, the trace headers on the response, and the request metric.

    A plain ASGI middleware rather than `@app.middleware("http")` (Starlette's
    BaseHTTPMiddleware), which runs the rest of the app in a task of its own with a memory
    stream per request: about a tenth of a submit's CPU in the requests service's profile.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The request metric's series by (method, route, status): `labels()` looks its child up
        # under a lock on every call, a cost a busy gateway notices.
        self._series: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One pass over the raw headers (ASGI servers give their names in lowercase).
        wanted: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _TRACE_HEADERS:
                wanted[name] = value.decode("latin-1")
        # This request is a span of its own, parented by the caller's span (if it sent one).
        traceparent = wanted.get(b"traceparent")
        cause = context.parse_traceparent(traceparent, wanted.get(b"tracestate"))
        # Every flow gets a correlation id: the caller's, or the trace's, which every event and
        # log line of the flow then shares.
        if cause is None:
            cause = context.new_flow(wanted.get(b"x-correlation-id"))
        else:
            correlation = wanted.get(b"x-correlation-id") or cause.trace_id
            cause = dataclasses.replace(cause, correlation_id=correlation)
        request_id = wanted.get(b"x-request-id") or cause.span_id
        trace_headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in cause.headers().items()
        ]
        status = 500  # what the client gets if the app fails before it answers
        started = time.perf_counter()

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), *trace_headers]}
            await send(message)

        try:
            with context.causation(cause, request_id=request_id):
                await self.app(scope, receive, send_traced)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            key = (scope["method"], route, str(status))
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = metrics.HTTP_REQUESTS.labels(*key)
            series.observe(time.perf_counter() - started)


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"x-correlation-id", b"x-request-id"})


def wrapped(app: ASGIApp, *, max_body_bytes: int, deadlines: Deadlines) -> ASGIApp:
    """A plain ASGI app inside the middleware `install_middleware` gives a FastAPI app, in the
    same order (for an endpoint served before FastAPI's own layers)."""
    return CausationAndMetrics(
        Unavailable(BodyLimit(app, limit=max_body_bytes), deadlines=deadlines)
    )


def install_middleware(
    app: FastAPI, *, max_body_bytes: int = 1_000_000, deadlines: Deadlines | None = None
) -> None:
    # Starlette runs the middleware added last first: causation, then deadlines, then the limit.
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(Unavailable, deadlines=deadlines or Deadlines())
    app.add_middleware(CausationAndMetrics)
    app.add_exception_handler(RequestValidationError, validation_problem)
