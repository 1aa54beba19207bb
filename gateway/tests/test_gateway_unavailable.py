"""A service that cannot be reached is an `unavailable` upstream error, like a service's 503."""

from __future__ import annotations

import socket

import httpx
import pytest

from icr.gateway.clients import ServiceClient, UpstreamError


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_service_is_an_unavailable_upstream_error() -> None:
    client = ServiceClient("requests", f"http://127.0.0.1:{closed_port()}", timeout=2)
    try:
        with pytest.raises(UpstreamError) as caught:
            await client.call("GET", "/requests/r1")
    finally:
        await client.close()
    assert (caught.value.status, caught.value.code) == (503, "unavailable")


class FlakyOnce(httpx.AsyncBaseTransport):
    """Refuses the first connection, then answers: a stale pooled connection, say."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": True})


async def test_a_read_is_tried_once_more_when_it_never_reached_the_service() -> None:
    transport = FlakyOnce()
    client = ServiceClient("requests", "http://requests", timeout=2, transport=transport)
    try:
        assert await client.call("GET", "/departments") == {"ok": True}
    finally:
        await client.close()
    assert transport.calls == 2


async def test_a_write_is_not_retried() -> None:
    transport = FlakyOnce()
    client = ServiceClient("requests", "http://requests", timeout=2, transport=transport)
    try:
        with pytest.raises(UpstreamError):
            await client.call("POST", "/requests", json={})
    finally:
        await client.close()
    assert transport.calls == 1


def test_every_root_query_field_is_nullable() -> None:
    """A root field whose service is down is null with an error; a non-null one would null the
    whole answer, taking the other services' fields down with it."""
    from graphql import GraphQLNonNull

    from icr.gateway.schema import schema

    query = schema._schema.query_type
    assert query is not None
    non_null = [n for n, f in query.fields.items() if isinstance(f.type, GraphQLNonNull)]
    assert non_null == []
