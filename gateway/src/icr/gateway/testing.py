"""Test helpers: a gateway served for real (uvicorn on a port of its own), for tests that need
websockets or several replicas, and a graphql-transport-ws client of it. No fakes here."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI
from websockets.typing import Subprotocol

from icr.kit.testing import free_port


class Replica:
    """One gateway served by uvicorn on a port of its own, as in production."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets-sansio"
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def subscribers(self) -> int:
        return len(self.app.state.clients.hub.subscribers)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        async with asyncio.timeout(15):
            while not self.server.started:
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


PROTOCOL = Subprotocol("graphql-transport-ws")


@contextlib.asynccontextmanager
async def connected(replica: Replica, token: str) -> AsyncIterator[Any]:
    """A websocket to `replica`, acknowledged for `token`."""
    async with websockets.connect(replica.url, subprotocols=[PROTOCOL]) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield ws


async def subscribe(ws: Any, replica: Replica, op: str, query: str) -> None:
    before = replica.subscribers
    await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": {"query": query}}))
    # Subscribed once the replica's hub holds it (its consumer is then at the topics' ends).
    async with asyncio.timeout(30):
        while replica.subscribers <= before:
            await asyncio.sleep(0.05)


async def next_message(ws: Any, timeout: float = 20) -> dict[str, Any]:  # noqa: ASYNC109
    """The next message that is not a ping."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "ping":
                return dict(message)
