"""A service started while Kafka or the store is down: not ready, then ready, nothing lost."""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import pytest
from fastapi import APIRouter, FastAPI, Request

from icr.contracts import Event
from icr.contracts.topics import Topic
from icr.kit.service import ServiceSpec, create_app, runtime_of
from icr.kit.testing import (
    TcpProxy,
    read_topic,
    running_app,
    service_settings_for_test,
    wait_ready,
)

pytestmark = pytest.mark.infra

TOPIC = Topic("kit.test.note", partitions=2, owner="kit")


class NoteTaken(Event):
    event_type: ClassVar[str] = "kit.note.taken"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "note_id"

    note_id: str


router = APIRouter()


@router.post("/notes/{note_id}", status_code=201)
async def take_note(note_id: str, request: Request) -> dict[str, str]:
    runtime = runtime_of(request)
    await runtime.outbox.insert(
        runtime.mongo.collection("notes"), {"_id": note_id}, [NoteTaken(note_id=note_id)]
    )
    return {"id": note_id}


@router.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


def build(**overrides: object) -> tuple[FastAPI, object]:
    settings = service_settings_for_test(service_name="kit", mongo_timeout_ms=500, **overrides)
    spec = ServiceSpec(
        settings=settings, produces=[TOPIC], outbox_collections=["notes"], routers=[router]
    )
    return create_app(spec, title="kit test"), settings


def split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


async def test_service_started_without_kafka_publishes_once_kafka_returns() -> None:
    settings = service_settings_for_test()
    proxy = TcpProxy(*split(settings.kafka_bootstrap_servers.split(",")[0]))
    port = await proxy.open()
    await proxy.close()  # the port is known, but nothing answers: Kafka is "down"
    app, settings = build(kafka_bootstrap_servers=f"127.0.0.1:{port}")
    async with running_app(app) as http:
        assert (await http.get("/health/live")).status_code == 200
        await asyncio.sleep(1)
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["kafka"] != "ok"
        assert ready.json()["checks"]["mongo"] == "ok"

        assert (await http.post("/notes/n1")).status_code == 201  # accepted while down

        await proxy.open(port)  # Kafka is back
        try:
            await wait_ready(http)
            records = await read_topic(
                settings.kafka_bootstrap_servers, settings.topic_name(TOPIC.name), count=1
            )
        finally:
            await proxy.close()
    assert json.loads(records[0].value)["data"] == {"note_id": "n1"}


async def test_service_started_without_the_store_becomes_ready_when_it_returns() -> None:
    settings = service_settings_for_test()
    target = settings.mongo_url.split("//")[1].split("/")[0]
    proxy = TcpProxy(*split(target))
    port = await proxy.open()
    await proxy.close()
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    app, settings = build(mongo_url=url)
    async with running_app(app) as http:
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        # Which dependency is down, and nothing of the driver's text (its address, say).
        assert ready.json()["checks"]["mongo"] in ("down", "timeout")
        assert str(port) not in ready.text
        assert "127.0.0.1" not in ready.text
        await proxy.open(port)
        try:
            await wait_ready(http)
            assert (await http.post("/notes/n2")).status_code == 201
            records = await read_topic(
                settings.kafka_bootstrap_servers, settings.topic_name(TOPIC.name), count=1
            )
        finally:
            await proxy.close()
    assert json.loads(records[0].value)["data"] == {"note_id": "n2"}


async def test_metrics_endpoint_exposes_what_the_service_did() -> None:
    app, settings = build(outbox_metrics_seconds=0)
    topic = settings.topic_name(TOPIC.name)  # type: ignore[attr-defined]
    database = settings.database  # type: ignore[attr-defined]
    async with running_app(app) as http:
        await wait_ready(http)
        assert (await http.post("/notes/n3")).status_code == 201
        async with asyncio.timeout(20):
            # The relay published the note and a later scan counted an empty backlog.
            while not (
                f'icr_events_published_total{{topic="{topic}"}} 1.0'
                in (body := await metrics(http))
                and f'icr_outbox_backlog{{collection="notes",database="{database}"}} 0.0' in body
            ):
                await asyncio.sleep(0.05)
    assert (
        'icr_http_request_seconds_count{method="POST",route="/notes/{note_id}",status="201"}'
        in body
    )
    assert f'icr_outbox_oldest_pending_seconds{{collection="notes",database="{database}"}}' in body


async def metrics(http: Any) -> str:
    text: str = (await http.get("/metrics")).text
    return text


async def test_oversized_body_is_refused_with_413() -> None:
    app, _ = build(max_body_bytes=1000)
    async with running_app(app) as http:
        declared = await http.post("/notes/big", content=b"x" * 5000)

        async def chunks():
            for _ in range(10):
                yield b"y" * 500

        streamed = await http.post("/echo", content=chunks())
        small = await http.post("/echo", content=b"{}")
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"
    assert streamed.status_code == 413
    assert small.json() == {"size": 2}
