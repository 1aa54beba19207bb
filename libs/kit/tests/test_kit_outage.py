"""A running service whose store goes away (refused or stalled) answers 503 with Retry-After
within its deadline, then serves again when the store is back; trace context reaches Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from icr.contracts import Event
from icr.contracts.topics import Topic
from icr.kit import context, metrics
from icr.kit.kafka import header
from icr.kit.outbox import OUTBOX
from icr.kit.service import ServiceSpec, create_app, runtime_of
from icr.kit.testing import (
    TcpProxy,
    read_topic,
    running_app,
    service_settings_for_test,
    wait_ready,
)

pytestmark = pytest.mark.infra

TOPIC = Topic("kit.test.outage", partitions=1, owner="kit")
DEADLINE = 1.5
# Time allowed beyond the deadline for the answer itself on a busy 2-core machine.
SLACK = 1.5


class Noted(Event):
    event_type: ClassVar[str] = "kit.outage.noted"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "note_id"

    note_id: str


router = APIRouter()
seen: list[context.Causation] = []


@router.post("/notes/{note_id}", status_code=201)
async def write(note_id: str, request: Request) -> dict[str, str]:
    seen.append(context.current())
    runtime = runtime_of(request)
    await runtime.outbox.insert(
        runtime.mongo.collection("notes"), {"_id": note_id}, [Noted(note_id=note_id)]
    )
    return {"id": note_id}


@router.get("/notes/{note_id}")
async def read(note_id: str, request: Request) -> dict[str, Any]:
    doc = await runtime_of(request).mongo.collection("notes").find_one({"_id": note_id})
    return {"found": doc is not None}


def address(url_or_hostport: str) -> tuple[str, int]:
    hostport = url_or_hostport.split("//")[-1].split("/")[0].split(",")[0]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def build(**overrides: Any) -> tuple[FastAPI, Any]:
    settings = service_settings_for_test(
        service_name="kit", request_timeout_seconds=DEADLINE, retry_after_seconds=2, **overrides
    )
    spec = ServiceSpec(
        settings=settings, produces=[TOPIC], outbox_collections=["notes"], routers=[router]
    )
    return create_app(spec, title="kit outage test"), settings


async def burst(http: httpx.AsyncClient, n: int = 16) -> list[tuple[httpx.Response, float]]:
    async def one(i: int) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        if i % 2:
            response = await http.post(f"/notes/b{i}-{time.monotonic_ns()}")
        else:
            response = await http.get(f"/notes/b{i}")
        return response, time.monotonic() - started

    return await asyncio.gather(*(one(i) for i in range(n)))


def assert_unavailable_in_time(results: list[tuple[httpx.Response, float]]) -> None:
    statuses = [r.status_code for r, _ in results]
    assert statuses == [503] * len(results), statuses
    for response, elapsed in results:
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["retry-after"] == "2"
        assert elapsed < DEADLINE + SLACK, elapsed


async def until_served(http: httpx.AsyncClient, timeout: float = 30.0) -> None:
    """The store is back: a write succeeds (after the driver rediscovers the server), and the
    work of requests answered at their deadline has unwound (nothing stays stuck)."""
    async with asyncio.timeout(timeout):
        while (await http.post(f"/notes/back-{time.monotonic_ns()}")).status_code != 201:
            await asyncio.sleep(0.2)
        while metrics.HTTP_ABANDONED._value.get() > 0:
            await asyncio.sleep(0.1)


@pytest.fixture
async def store_proxy() -> AsyncIterator[TcpProxy]:
    target = service_settings_for_test().mongo_url
    proxy = TcpProxy(*address(target))
    await proxy.open()
    try:
        yield proxy
    finally:
        proxy.resume()
        await proxy.close()


async def test_store_refusing_connections_answers_503_within_the_deadline(
    store_proxy: TcpProxy,
) -> None:
    # The driver's own server selection timeout (3 s) is longer than the request deadline.
    app, _ = build(mongo_url=f"mongodb://127.0.0.1:{store_proxy.port}/?directConnection=true")
    async with running_app(app) as http:
        await wait_ready(http)
        assert (await http.post("/notes/before")).status_code == 201
        await store_proxy.close()  # refused: pooled connections reset, new ones refused
        assert_unavailable_in_time(await burst(http))
        await store_proxy.open(store_proxy.port)
        await until_served(http)
        assert (await http.get("/notes/before")).json() == {"found": True}


async def test_stalled_store_answers_503_by_the_deadline(store_proxy: TcpProxy) -> None:
    app, _ = build(mongo_url=f"mongodb://127.0.0.1:{store_proxy.port}/?directConnection=true")
    async with running_app(app) as http:
        await wait_ready(http)
        assert (await http.post("/notes/before")).status_code == 201
        store_proxy.pause()  # connections stay open, no byte gets through: requests hang
        assert_unavailable_in_time(await burst(http))
        store_proxy.resume()
        await until_served(http)


async def test_event_of_a_traced_call_is_a_child_of_the_callers_span() -> None:
    """traceparent of the caller -> the request's span -> the event's span on Kafka."""
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    dead = TcpProxy("127.0.0.1", 9)
    port = await dead.open()
    await dead.close()  # nothing listens there: this replica cannot reach Kafka
    # One replica without Kafka takes the call, so the event waits in the outbox where we can
    # read its recorded parent; a second replica on the same store then publishes it.
    _, shared = build()
    same = {"mongo_db": shared.mongo_db, "kafka_topic_prefix": shared.kafka_topic_prefix}
    offline, _ = build(kafka_bootstrap_servers=f"127.0.0.1:{port}", **same)
    seen.clear()
    async with running_app(offline) as http:
        headers = {"traceparent": f"00-{caller_trace}-{caller_span}-01", "tracestate": "v=1"}
        response = await http.post("/notes/traced", headers=headers)
        assert response.status_code == 201
        doc = await offline.state.runtime.mongo.collection("notes").find_one({"_id": "traced"})
    (request_span,) = seen
    assert (request_span.trace_id, request_span.parent_span_id) == (caller_trace, caller_span)
    assert response.headers["traceparent"] == request_span.traceparent
    assert response.headers["tracestate"] == "v=1"
    (entry,) = doc[OUTBOX]
    assert entry["parent_span_id"] == request_span.span_id

    online, settings = build(**same)
    async with running_app(online) as http:
        await wait_ready(http)
        (record,) = await read_topic(
            settings.kafka_bootstrap_servers, settings.topic_name(TOPIC.name), count=1
        )
    _, trace_id, span_id, _ = (header(record.headers, "traceparent") or "").split("-")
    assert trace_id == caller_trace
    assert span_id == entry["traceparent"].split("-")[2]
    assert span_id not in (caller_span, request_span.span_id)
