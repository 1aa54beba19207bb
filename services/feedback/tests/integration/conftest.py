"""The feedback service on the real broker and store, fed the requests service's events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from icr.contracts import Envelope, topics
from icr.feedback.main import build_app
from icr.feedback.settings import FeedbackSettings
from icr.feedback.testing import T0, department, person
from icr.kit.clock import SettableClock
from icr.kit.kafka import ensure_topics
from icr.kit.testing import bearer, publish, running_app, service_settings_for_test, wait_ready

ADMIN = "root"


@dataclass
class Running:
    http: httpx.AsyncClient
    settings: FeedbackSettings
    clock: SettableClock

    async def send(self, *envelopes: Envelope) -> None:
        await publish(self.settings, *envelopes)

    async def call(self, method: str, path: str, actor: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=bearer(actor), **kwargs)

    async def until(self, probe: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (found := await probe()):
                await asyncio.sleep(0.1)
        return found

    async def rating(self, request_id: str, actor: str = "ana") -> dict[str, Any]:
        async def probe() -> Any:
            response = await self.call("GET", f"/ratings/{request_id}", actor)
            return response.json() if response.status_code == 200 else None

        found: dict[str, Any] = await self.until(probe)
        return found


# Ana and Cy are Sales employees served by IT (Bo an agent, Ivy its manager); Dan is in HR.
PEOPLE = [
    person("ana", "sales"),
    person("cy", "sales"),
    person("bo", "it", "agent"),
    person("ivy", "it", "manager"),
    person("dan", "hr"),
    person("root", "it", "admin"),
    department("it", "ivy"),
    department("sales"),
    department("hr"),
]


@contextlib.asynccontextmanager
async def running_feedback(**overrides: Any) -> AsyncIterator[Running]:
    settings = service_settings_for_test(
        FeedbackSettings,
        timer_poll_seconds=0.1,
        score_publish_delay_seconds=0,
        **overrides,
    )
    await ensure_topics(settings, [topics.REQUESTS, topics.DIRECTORY])
    await publish(settings, *PEOPLE)
    clock = SettableClock(T0)
    async with running_app(build_app(settings, clock=clock)) as http:
        await wait_ready(http)
        running = Running(http, settings, clock)

        async def known() -> bool:
            return (await running.call("GET", "/ratings/mine", "dan")).status_code == 200

        await running.until(known)
        yield running


@pytest.fixture
def feedback() -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    return running_feedback
