"""Test helpers: a gateway served for real (uvicorn on a port of its own), for tests that need
websockets or several replicas. No fakes here."""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI

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
