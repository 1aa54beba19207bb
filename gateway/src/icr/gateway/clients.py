"""HTTP clients of the three services, built once in the gateway's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from icr.gateway.auth import unauthenticated
from icr.gateway.cache import CacheFeed, ReadCache
from icr.gateway.hub import Hub
from icr.gateway.settings import GatewaySettings
from icr.kit import context

Json = dict[str, Any]
RETRY_DELAY_SECONDS = 0.05


def segment(value: str) -> str:
    """A value made safe as one URL path segment: an id like `../people` or `x?y` must never
    reach another route of a service."""
    return quote(value, safe="")


class UpstreamError(Exception):
    """A service answered with an error; carries its status and error body."""

    def __init__(self, service: str, status: int, body: Json) -> None:
        error = body.get("error") or {}
        detail = body.get("detail")
        self.service = service
        self.status = status
        self.code = str(error.get("code") or ("validation" if status == 422 else "upstream"))
        self.message = str(error.get("message") or detail or f"{service} answered {status}")
        self.details: Json = {k: v for k, v in error.items() if k not in ("code", "message")}
        if status == 422 and isinstance(detail, list):
            self.details["fields"] = detail
        super().__init__(f"{service}: {status} {self.code}: {self.message}")


# Idle connections are let go after 4 s, before the services' servers close theirs (uvicorn's
# keep-alive is 5 s): a write on a connection the server is closing would fail after it may
# have been sent, and writes are not retried.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)


class _Transport(AiohttpTransport):
    """httpx-aiohttp's transport maps aiohttp's connection and timeout errors to httpx's; an
    answer that is not HTTP (a bad status line or header, from a proxy or a wrong port) comes
    out as aiohttp's own ClientResponseError. It is a protocol error like the others, so
    callers get the one 503 `unavailable` shape (httpcore said RemoteProtocolError)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except aiohttp.ClientResponseError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc


class ServiceClient:
    def __init__(
        self,
        name: str,
        base_url: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: ReadCache | None = None,
    ) -> None:
        self.name = name
        self.cache = cache
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport or _Transport(limits=LIMITS)
        )

    async def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        # The caller's own token goes to the service, which verifies it and applies its own
        # rules: the gateway never speaks for anyone with more rights than the caller has.
        cause = context.current()
        headers = {"traceparent": cause.child().traceparent}
        if cause.correlation_id:
            headers["x-correlation-id"] = cause.correlation_id
        if token:
            headers["authorization"] = f"Bearer {token}"
        try:
            response = await self._send(method, path, headers, kwargs)
        except httpx.TransportError as exc:
            # Refused, reset or timed out: the same answer a service gives when its own store
            # is down, so callers handle one shape.
            message = f"{self.name} is unavailable: {type(exc).__name__}"
            raise UpstreamError(
                self.name, 503, {"error": {"code": "unavailable", "message": message}}
            ) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            if response.status_code == 401:
                # A valid token the service still refuses (a person its directory does not
                # know, or deactivated): the caller is unauthenticated, not merely forbidden.
                raise unauthenticated(UpstreamError(self.name, 401, body).message)
            raise UpstreamError(self.name, response.status_code, body)
        if method != "GET" and self.cache is not None:
            self.cache.after_write(self.name, path)
        # 204 (an answer recorded, nothing to say) has no body. orjson: a page of 50 requests
        # is tens of kilobytes, and the standard decoder was a visible share of the gateway.
        return orjson.loads(response.content) if response.content else None

    async def _send(
        self, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Response:
        try:
            return await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            # A read that never reached the service (a refused or stale pooled connection) is
            # safe to try once more; a write is not (it may have been applied), nor is a
            # timeout (the service is slow: asking again only adds load).
            if method != "GET" or not _never_reached(exc):
                raise
            await asyncio.sleep(RETRY_DELAY_SECONDS)
            return await self.http.request(method, path, headers=headers, **kwargs)

    async def close(self) -> None:
        await self.http.aclose()


def _never_reached(exc: httpx.TransportError) -> bool:
    # The aiohttp transport reports a refused connection and a pooled one the service had
    # closed as its own errors, under httpx's; the cause says which it was.
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ServerDisconnectedError):
        return True
    return isinstance(exc, httpx.ConnectError | httpx.RemoteProtocolError)


class Clients:
    def __init__(
        self,
        settings: GatewaySettings,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        """`transports` replaces the network for some services (tests run them in-process)."""
        timeout, transports = settings.upstream_timeout, transports or {}
        self.settings = settings

        self.cache = ReadCache(
            seconds=settings.read_cache_seconds,
            entries=settings.read_cache_entries,
            stale_seconds=settings.read_cache_stale_seconds,
        )
        self.cache_feed = CacheFeed(settings, self.cache)

        def client(name: str, url: str) -> ServiceClient:
            return ServiceClient(name, url, timeout, transports.get(name), self.cache)

        self.requests = client("requests", settings.requests_url)
        self.feedback = client("feedback", settings.feedback_url)
        self.incentives = client("incentives", settings.incentives_url)
        # The live feed; its Kafka consumer starts with the first subscription.
        self.hub = Hub(settings, queue_size=settings.live_queue_size)

    @property
    def all(self) -> Sequence[ServiceClient]:
        return (self.requests, self.feedback, self.incentives)

    async def close(self) -> None:
        await self.cache_feed.close()
        await self.hub.close()
        for client in self.all:
            await client.close()
