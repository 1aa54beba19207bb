"""Consumers on the real broker: redelivery applies once, a poison event is dead-lettered."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

from icr.contracts import Envelope, Event, Registry
from icr.contracts.topics import Topic
from icr.kit import kafka
from icr.kit.consumer import ConsumerRunner, Subscription, dead_letter_topic
from icr.kit.inbox import Inbox
from icr.kit.kafka import build_producer, encode, ensure_topics
from icr.kit.mongo import Mongo, apply_once
from icr.kit.testing import read_topic, service_settings_for_test

pytestmark = pytest.mark.infra

TOPIC = Topic("kit.test.counter", partitions=1, owner="kit")


class Incremented(Event):
    event_type: ClassVar[str] = "kit.counter.incremented"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "counter_id"

    counter_id: str
    by: int


# A registry of the test's own, so the project's contracts stay as they are.
EVENTS = Registry()
EVENTS.register(Incremented)


@pytest.fixture
async def rig():
    settings = service_settings_for_test(service_name="kit", consumer_max_attempts=3)
    sub = Subscription(group="kit.counter")
    await ensure_topics(settings, [TOPIC], [dead_letter_topic(sub.group)])
    mongo = Mongo(settings)
    producer = build_producer(settings)
    await producer.start()
    yield settings, sub, mongo, producer
    await producer.stop()
    await mongo.client.drop_database(settings.database)
    await mongo.close()


async def publish(settings, producer, envelope: Envelope) -> None:
    await producer.send_and_wait(
        settings.topic_name(TOPIC.name), encode(envelope), key=envelope.aggregate_id.encode()
    )


async def run_until(runner: ConsumerRunner, done, timeout: float = 20) -> None:
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(timeout):
            while not await done():
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_redelivered_event_is_applied_once(rig) -> None:
    settings, sub, mongo, producer = rig
    counters = mongo.collection("counters")
    calls = 0

    @sub.on(Incremented)
    async def add(event: Incremented, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        await apply_once(
            counters, event.counter_id, {"$inc": {"value": event.by}}, event_id=envelope.event_id
        )

    first = Envelope.wrap(Incremented(counter_id="c", by=5), source="kit")
    second = Envelope.wrap(Incremented(counter_id="c", by=1), source="kit")
    for envelope in (first, first, second, first):  # Kafka redelivers; we send it again to prove it
        await publish(settings, producer, envelope)
    inbox = Inbox(mongo.collection("inbox"), settings.topic_name(sub.group))
    runner = ConsumerRunner(settings, sub, inbox, producer, events=EVENTS)

    group, topic = settings.topic_name(sub.group), settings.topic_name(TOPIC.name)

    async def done() -> bool:
        # All four records processed: two applied, and both redeliveries dropped as duplicates.
        duplicates = REGISTRY.get_sample_value(
            "icr_events_consumed_total", {"group": group, "topic": topic, "outcome": "duplicate"}
        )
        return await inbox.seen(second.event_id) and duplicates == 2

    await run_until(runner, done)
    doc = await counters.find_one({"_id": "c"})
    assert doc is not None
    assert doc["value"] == 6
    assert calls == 2


async def test_apply_once_guard_holds_even_without_the_inbox(rig) -> None:
    _, _, mongo, _ = rig
    counters = mongo.collection("counters")
    # As if the process died after the update, before recording the inbox, twice.
    applied = [
        await apply_once(counters, "x", {"$inc": {"value": 1}}, event_id="e1") for _ in range(3)
    ]
    assert applied == [True, False, False]
    doc = await counters.find_one({"_id": "x"})
    assert doc is not None
    assert doc["value"] == 1


async def test_failing_event_goes_to_dead_letter_and_the_partition_moves_on(rig) -> None:
    settings, sub, mongo, producer = rig
    handled: list[int] = []
    attempts = 0

    @sub.on(Incremented)
    async def add(event: Incremented, envelope: Envelope) -> None:
        nonlocal attempts
        if event.by == 13:
            attempts += 1
            raise ValueError("unlucky number")
        handled.append(event.by)

    # 2 is another counter's event: the dead-lettered 13 holds counter c, not the partition.
    for counter, by in (("c", 1), ("c", 13), ("d", 2)):
        await publish(
            settings, producer, Envelope.wrap(Incremented(counter_id=counter, by=by), source="kit")
        )
    # An envelope that is not JSON at all is parked at once, without retries.
    await producer.send_and_wait(settings.topic_name(TOPIC.name), b"not json", key=b"c")
    inbox = Inbox(mongo.collection("inbox"), settings.topic_name(sub.group))
    runner = ConsumerRunner(settings, sub, inbox, producer, events=EVENTS)

    group, topic = settings.topic_name(sub.group), settings.topic_name(TOPIC.name)

    async def done() -> bool:
        # Both dead letters sent too (the undecodable record comes after 2: stopping the runner
        # as soon as 2 is handled raced it on a loaded machine).
        dead_lettered = REGISTRY.get_sample_value(
            "icr_events_consumed_total",
            {"group": group, "topic": topic, "outcome": "dead_lettered"},
        )
        return handled == [1, 2] and dead_lettered == 2

    await run_until(runner, done)
    dead = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic_name(dead_letter_topic(sub.group)), count=2
    )
    assert attempts == 3
    errors = [kafka.header(r.headers, "dlq_error") or "" for r in dead]
    assert "ValueError: unlucky number" in errors[0]
    assert errors[1].startswith("undecodable envelope")
    assert kafka.header(dead[0].headers, "dlq_offset") == "1"
    assert Envelope.model_validate_json(dead[0].value).data["by"] == 13


async def test_store_outage_is_waited_out_instead_of_dead_lettering(rig) -> None:
    from pymongo.errors import AutoReconnect

    settings, sub, mongo, producer = rig
    failures = 0
    handled: list[int] = []

    @sub.on(Incremented)
    async def add(event: Incremented, envelope: Envelope) -> None:
        nonlocal failures
        if failures < 7:  # more than consumer_max_attempts (3)
            failures += 1
            raise AutoReconnect("store unreachable")
        handled.append(event.by)

    await publish(
        settings, producer, Envelope.wrap(Incremented(counter_id="c", by=4), source="kit")
    )
    inbox = Inbox(mongo.collection("inbox"), settings.topic_name(sub.group))
    runner = ConsumerRunner(settings, sub, inbox, producer, events=EVENTS)

    async def done() -> bool:
        return handled == [4]

    await run_until(runner, done)
    # The event was handled, so it can no longer be dead-lettered: the topic's end is final.
    dlq = TopicPartition(settings.topic_name(dead_letter_topic(sub.group)), 0)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await reader.start()
    try:
        assert (await reader.end_offsets([dlq]))[dlq] == 0
    finally:
        await reader.stop()


async def test_different_events_racing_to_create_one_document_are_all_applied(rig) -> None:
    # Real MongoDB lets concurrent upserts of one new _id collide (DuplicateKeyError); the local
    # stand-in serialises them, so there this only shows the common path stays right.
    _, _, mongo, _ = rig
    counters = mongo.collection("counters")
    applied = await asyncio.gather(
        *(
            apply_once(counters, "fresh", {"$inc": {"value": 1}}, event_id=f"e{i}")
            for i in range(20)
        )
    )
    doc = await counters.find_one({"_id": "fresh"})
    assert doc is not None
    assert (doc["value"], all(applied)) == (20, True)
