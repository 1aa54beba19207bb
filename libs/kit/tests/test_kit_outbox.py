"""The outbox relay on the real broker and store: order, crash safety, two replicas."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import ClassVar

import pytest

from icr.contracts import Event
from icr.contracts.topics import Topic
from icr.kit import kafka
from icr.kit.kafka import build_producer, ensure_topics
from icr.kit.mongo import Mongo
from icr.kit.outbox import OUTBOX_INDEXES, ConcurrentUpdate, Outbox, Relay
from icr.kit.settings import ServiceSettings
from icr.kit.testing import read_topic, service_settings_for_test

pytestmark = pytest.mark.infra

TOPIC = Topic("kit.test.thing", partitions=3, owner="kit")


class ThingChanged(Event):
    event_type: ClassVar[str] = "kit.thing.changed"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "thing_id"

    thing_id: str
    step: int


@pytest.fixture
async def env() -> tuple[ServiceSettings, Mongo]:
    settings = service_settings_for_test(service_name="kit")
    await ensure_topics(settings, [TOPIC])
    mongo = Mongo(settings)
    await mongo.ensure_indexes({"things": OUTBOX_INDEXES})
    yield settings, mongo  # type: ignore[misc]
    await mongo.client.drop_database(settings.database)
    await mongo.close()


async def write_things(outbox: Outbox, mongo: Mongo, things: int, steps: int) -> None:
    coll = mongo.collection("things")
    for t in range(things):
        await outbox.insert(
            coll, {"_id": f"thing-{t}", "step": 0}, [ThingChanged(thing_id=f"thing-{t}", step=0)]
        )
    for step in range(1, steps):
        for t in range(things):
            await outbox.update(
                coll,
                f"thing-{t}",
                step,
                {"step": step},
                [ThingChanged(thing_id=f"thing-{t}", step=step)],
            )


async def relay_until_done(relays: list[Relay], mongo: Mongo) -> None:
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        async with asyncio.timeout(30):
            while await mongo.collection("things").count_documents({"outbox_pending": True}):
                await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def steps_by_thing(records: list) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in records:
        data = json.loads(r.value)["data"]
        out.setdefault(data["thing_id"], []).append(data["step"])
    return out


async def test_events_written_while_no_relay_runs_are_published_in_order_later(env) -> None:
    settings, mongo = env
    outbox = Outbox(settings)
    # Nothing publishes while we write: as if the service crashed right after each write.
    await write_things(outbox, mongo, things=5, steps=4)
    assert await mongo.collection("things").count_documents({"outbox_pending": True}) == 5

    producer = build_producer(settings)
    await producer.start()
    try:
        await relay_until_done(
            # A fresh Outbox, as after a restart: no hints, so the scan must find them.
            [Relay(settings, [mongo.collection("things")], producer, Outbox(settings))],
            mongo,
        )
    finally:
        await producer.stop()

    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic_name(TOPIC.name), count=20
    )
    assert steps_by_thing(records) == {f"thing-{t}": [0, 1, 2, 3] for t in range(5)}
    assert all(r.key == json.loads(r.value)["aggregate_id"].encode() for r in records)
    assert {kafka.header(r.headers, "event_type") for r in records} == {"kit.thing.changed"}
    assert all((kafka.header(r.headers, "traceparent") or "").startswith("00-") for r in records)
    doc = await mongo.collection("things").find_one({"_id": "thing-0"})
    assert doc is not None
    assert doc["outbox"] == []
    assert doc["outbox_pending"] is False


async def test_two_relay_replicas_publish_each_event_once(env) -> None:
    settings, mongo = env
    outbox = Outbox(settings)
    await write_things(outbox, mongo, things=40, steps=3)
    producers = [build_producer(settings), build_producer(settings)]
    for p in producers:
        await p.start()
    try:
        relays = [
            Relay(settings, [mongo.collection("things")], p, Outbox(settings), batch=7)
            for p in producers
        ]
        await relay_until_done(relays, mongo)
    finally:
        for p in producers:
            await p.stop()
    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic_name(TOPIC.name), count=120
    )
    ids = Counter(json.loads(r.value)["event_id"] for r in records)
    assert len(ids) == 120
    assert max(ids.values()) == 1
    assert steps_by_thing(records) == {f"thing-{t}": [0, 1, 2] for t in range(40)}


async def test_stale_version_update_is_refused_and_records_no_event(env) -> None:
    settings, mongo = env
    outbox = Outbox(settings)
    coll = mongo.collection("things")
    await outbox.insert(coll, {"_id": "t", "step": 0}, [ThingChanged(thing_id="t", step=0)])
    await outbox.update(coll, "t", 1, {"step": 1}, [ThingChanged(thing_id="t", step=1)])
    with pytest.raises(ConcurrentUpdate):
        await outbox.update(coll, "t", 1, {"step": 9}, [ThingChanged(thing_id="t", step=9)])
    doc = await coll.find_one({"_id": "t"})
    assert doc is not None
    assert (doc["step"], doc["version"], len(doc["outbox"])) == (1, 2, 2)


async def test_topic_the_cluster_cannot_create_fails_with_the_brokers_reason() -> None:
    settings = service_settings_for_test(kafka_replication_factor=3)  # one broker here
    with pytest.raises(RuntimeError, match=r"cannot create topic .*kit\.test\.thing"):
        await ensure_topics(settings, [TOPIC])


async def test_flag_left_behind_by_a_crash_is_cleared(env) -> None:
    settings, mongo = env
    coll = mongo.collection("things")
    # As if a relay died after removing the events and before clearing the flag.
    await coll.insert_one({"_id": "t", "version": 3, "outbox": [], "outbox_pending": True})
    producer = build_producer(settings)
    await producer.start()
    try:
        await Relay(settings, [coll], producer, Outbox(settings)).publish_pending()
    finally:
        await producer.stop()
    doc = await coll.find_one({"_id": "t"})
    assert doc is not None
    assert (doc["outbox_pending"], doc["outbox_lease_owner"]) == (False, None)


async def test_insert_many_writes_each_document_with_its_events_and_refuses_duplicates_alone(
    env: tuple[ServiceSettings, Mongo],
) -> None:
    settings, mongo = env
    outbox, coll = Outbox(settings), mongo.collection("things")
    await outbox.insert(
        coll, {"_id": "thing-1", "step": 0}, [ThingChanged(thing_id="thing-1", step=0)]
    )
    docs = [
        ({"_id": f"thing-{t}", "step": 1}, [ThingChanged(thing_id=f"thing-{t}", step=1)])
        for t in range(3)
    ]
    assert await outbox.insert_many(coll, docs) == {"thing-0", "thing-2"}
    assert (await coll.find_one({"_id": "thing-1"}) or {})["step"] == 0  # refused, unchanged
    producer = build_producer(settings)
    await producer.start()
    try:
        await relay_until_done([Relay(settings, [coll], producer, outbox)], mongo)
    finally:
        await producer.stop()
    records = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic_name(TOPIC.name), count=3
    )
    assert steps_by_thing(records) == {"thing-0": [1], "thing-1": [0], "thing-2": [1]}
