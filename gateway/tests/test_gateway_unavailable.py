"""A service that cannot be reached is an `unavailable` upstream error, like a service's 503."""

from __future__ import annotations

import socket

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
