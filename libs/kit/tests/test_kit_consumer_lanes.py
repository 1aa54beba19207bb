"""A poll's records handled at once (`consumer_concurrency` > 1), on the real broker and store:
each aggregate's records stay in order while different aggregates overlap, a poison record is
dead-lettered without holding back the rest of its poll, and a restart after the poll applies
nothing twice."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, ClassVar

import pytest
from prometheus_client import REGISTRY

from icr.contracts import Envelope, Event, Registry
from icr.contracts.topics import Topic
from icr.kit import kafka
from icr.kit.consumer import ConsumerRunner, Subscription, dead_letter_topic
from icr.kit.holds import HOLDS_COLLECTION, PARKED_COLLECTION
from icr.kit.inbox import Inbox
from icr.kit.kafka import build_producer, encode, ensure_topics
from icr.kit.mongo import Mongo, apply_once
from icr.kit.testing import read_topic, service_settings_for_test

pytestmark = pytest.mark.infra

TOPIC = Topic("kit.test.lanes", partitions=1, owner="kit")


class Stepped(Event):
    event_type: ClassVar[str] = "kit.lanes.stepped"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "walker"

    walker: str
    step: int


EVENTS = Registry()
EVENTS.register(Stepped)


@pytest.fixture
async def rig() -> Any:
    settings = service_settings_for_test(
        service_name="kit",
        consumer_concurrency=50,
        consumer_max_attempts=2,
        consumer_retry_backoff_seconds=0.05,
    )
    sub = Subscription(group="kit.lanes")
    await ensure_topics(settings, [TOPIC], [dead_letter_topic(sub.group)])
    mongo = Mongo(settings)
    producer = build_producer(settings)
    await producer.start()
    yield settings, sub, mongo, producer
    await producer.stop()
    await mongo.client.drop_database(settings.database)
    await mongo.close()


async def publish_all(settings: Any, producer: Any, envelopes: list[Envelope]) -> None:
    # One partition, sent at once: the consumer polls them together.
    futures = [
        await producer.send(settings.topic_name(TOPIC.name), encode(e), key=e.aggregate_id.encode())
        for e in envelopes
    ]
    await asyncio.gather(*futures)


async def run_until(runner: ConsumerRunner, done: Any, timeout: float = 30) -> None:
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(timeout):
            while not await done():
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        # Bounded: a runner that does not stop fails here, not at the suite's timeout.
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 20)


def interleaved(walkers: list[str], steps: int) -> list[Envelope]:
    """w0:1, w1:1, ..., w0:2, w1:2, ...: each walker's steps numbered as a relay numbers them."""
    return [
        Envelope.wrap(Stepped(walker=w, step=n), source="kit", sequence=n)
        for n in range(1, steps + 1)
        for w in walkers
    ]


async def test_lanes_keep_each_aggregates_order_and_overlap_aggregates(rig: Any) -> None:
    settings, sub, mongo, producer = rig
    walkers = [f"w{n}" for n in range(20)]
    seen: dict[str, list[int]] = defaultdict(list)
    in_flight = peak = 0
    walked = mongo.collection("walked")

    @sub.on(Stepped)
    async def step(event: Stepped, envelope: Envelope) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.01)  # a store call's worth of waiting
            once = {"$inc": {"steps": 1}}
            await apply_once(walked, event.walker, once, event_id=envelope.event_id)
            seen[event.walker].append(event.step)  # after the write: `done` stops the runner
        finally:
            in_flight -= 1

    await publish_all(settings, producer, interleaved(walkers, 5))
    inbox = Inbox(mongo.collection("inbox"), settings.topic_name(sub.group))
    runner = ConsumerRunner(settings, sub, inbox, producer, events=EVENTS)

    async def done() -> bool:
        return sum(len(s) for s in seen.values()) == 100

    await run_until(runner, done)
    assert all(seen[w] == [1, 2, 3, 4, 5] for w in walkers)  # each walker in order
    assert peak > 1  # one partition, yet different walkers were handled at once
    async for doc in walked.find({}):
        assert doc["steps"] == 5

    # A member of the same group after a restart: the poll's offsets were committed, nothing
    # comes again (and what would is stale by position).
    seen.clear()
    again = ConsumerRunner(settings, sub, inbox, producer, events=EVENTS)
    group, topic = settings.topic_name(sub.group), settings.topic_name(TOPIC.name)
    before = REGISTRY.get_sample_value(
        "icr_events_consumed_total", {"group": group, "topic": topic, "outcome": "applied"}
    )
    await publish_all(settings, producer, [interleaved(["late"], 1)[0]])

    async def late() -> bool:
        return seen.get("late") == [1]

    await run_until(again, late)
    after = REGISTRY.get_sample_value(
        "icr_events_consumed_total", {"group": group, "topic": topic, "outcome": "applied"}
    )
    assert (after or 0) - (before or 0) == 1
    assert dict(seen) == {"late": [1]}


async def test_a_poison_record_does_not_hold_back_the_rest_of_its_poll(rig: Any) -> None:
    settings, sub, mongo, producer = rig
    seen: dict[str, list[int]] = defaultdict(list)
    attempts = 0

    @sub.on(Stepped)
    async def step(event: Stepped, envelope: Envelope) -> None:
        nonlocal attempts
        if event.walker == "bad" and event.step == 2:
            attempts += 1
            await asyncio.sleep(0.01)
            raise ValueError("poison")
        await asyncio.sleep(0.005)
        seen[event.walker].append(event.step)

    # bad:2 fails every attempt: it is dead-lettered and holds walker "bad" (bad:3 parked);
    # every other walker's steps in the same poll are applied, in order.
    await publish_all(settings, producer, interleaved(["a", "bad", "c", "d"], 3))
    inbox = Inbox(mongo.collection("inbox"), settings.topic_name(sub.group))
    runner = ConsumerRunner(settings, sub, inbox, producer, events=EVENTS)
    holds = mongo.collection(HOLDS_COLLECTION)
    parked = mongo.collection(PARKED_COLLECTION)

    async def done() -> bool:
        others = all(seen[w] == [1, 2, 3] for w in ("a", "c", "d"))
        return others and await parked.count_documents({}) == 1

    await run_until(runner, done)
    assert seen["bad"] == [1]
    assert attempts == settings.consumer_max_attempts
    hold = await holds.find_one({})
    assert hold is not None
    assert hold["aggregate_id"] == "bad"
    dead = await read_topic(
        settings.kafka_bootstrap_servers, settings.topic_name(dead_letter_topic(sub.group)), count=1
    )
    assert "ValueError: poison" in (kafka.header(dead[0].headers, "dlq_error") or "")
    assert Envelope.model_validate_json(dead[0].value).data == {"walker": "bad", "step": 2}
