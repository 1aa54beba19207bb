"""The gateway's service client on its production transport (aiohttp) against real sockets: a
pooled connection the service has closed does not fail the next read, and a service that
refuses connections is a 503 `unavailable`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from icr.gateway.clients import ServiceClient, UpstreamError

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


@pytest.fixture
async def closes_after_each_answer() -> AsyncIterator[tuple[str, list[str]]]:
    """A server that answers keep-alive style, then closes the connection: the client's pool
    holds a connection the server has already closed."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b" ", 2)[0].decode())
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        writer.write(ANSWER)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", seen


async def test_a_read_after_the_service_closed_its_pooled_connection_succeeds(
    closes_after_each_answer,
) -> None:
    url, seen = closes_after_each_answer
    client = ServiceClient("requests", url, timeout=5)
    try:
        assert await client.call("GET", "/people") == {}
        await asyncio.sleep(0.2)  # the server has closed the pooled connection by now
        assert await client.call("GET", "/people") == {}
        assert seen[:2] == ["GET", "GET"]
    finally:
        await client.close()


async def test_a_refused_read_is_a_503_unavailable_after_one_more_try() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    client = ServiceClient("requests", f"http://127.0.0.1:{port}", timeout=5)
    try:
        with pytest.raises(UpstreamError) as refused:
            await client.call("GET", "/people")
        assert refused.value.status == 503
        assert refused.value.code == "unavailable"
    finally:
        await client.close()


@pytest.mark.parametrize(
    "reply",
    [b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"],
    ids=["bad-status-line", "bad-content-length"],
)
async def test_a_reply_that_is_not_http_is_a_503_unavailable(reply: bytes) -> None:
    """Something between the gateway and the service (a proxy, a wrong port) answers with what
    is not HTTP: the same 503 `unavailable` as a refused connection, for reads and writes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        client = ServiceClient("requests", f"http://127.0.0.1:{port}", timeout=2.0)
        try:
            for method in ("GET", "POST"):
                with pytest.raises(UpstreamError) as refused:
                    await client.call(method, "/people", json={} if method == "POST" else None)
                assert refused.value.status == 503
                assert refused.value.code == "unavailable"
        finally:
            await client.close()
