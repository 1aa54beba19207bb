"""The cancelling deadline (Deadlines(cancel=True), for apps with no store such as the gateway):
work past its deadline is cancelled and the client gets the services' 503, at the deadline."""

from __future__ import annotations

import asyncio
import time

import httpx
from aiokafka.errors import KafkaConnectionError
from starlette.types import Receive, Scope, Send

from icr.kit.http import Deadlines, Unavailable


def app_doing(work: str, seen: list[str]) -> Unavailable:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if work == "slow":
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
        if work == "broker down":
            raise KafkaConnectionError("no broker")
        if work == "bug":
            raise ValueError("a bug")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return Unavailable(app, Deadlines(seconds=0.2, retry_after_seconds=3, cancel=True))


async def call(app: Unavailable) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.get("/x")


async def test_work_past_its_deadline_is_cancelled_and_answered_503() -> None:
    seen: list[str] = []
    began = time.monotonic()
    response = await call(app_doing("slow", seen))
    assert time.monotonic() - began < 2
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "unavailable"
    assert seen == ["cancelled"]


async def test_an_unreachable_broker_is_a_503_and_a_bug_is_not() -> None:
    down = await call(app_doing("broker down", []))
    assert down.status_code == 503
    try:
        await call(app_doing("bug", []))
    except ValueError:
        pass
    else:
        raise AssertionError("a bug must surface as itself, not as an outage")


async def test_work_within_its_deadline_answers_itself() -> None:
    response = await call(app_doing("fast", []))
    assert (response.status_code, response.text) == (200, "ok")
