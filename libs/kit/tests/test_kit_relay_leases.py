"""The relay under faults, on the real broker and store: a settle that fails, a sender slower
than its lease, a SIGKILLed relay, clocks a minute apart, a lease lost mid-send, stuck documents
ahead of free ones, an unregistered outbox collection, sequence numbers across republishing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from pymongo.errors import AutoReconnect

from icr.contracts import Event
from icr.contracts.topics import Topic
from icr.kit.kafka import build_producer, ensure_topics
from icr.kit.lease import CLOCK_COLLECTION, ServerClock, utcnow
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import (
    LEASE_OWNER,
    LEASE_UNTIL,
    OUTBOX_INDEXES,
    Outbox,
    Relay,
    UnregisteredOutbox,
)
from icr.kit.service import ServiceSpec, create_app
from icr.kit.settings import ServiceSettings
from icr.kit.testing import running_app, service_settings_for_test

pytestmark = pytest.mark.infra

TOPIC = Topic("kit.test.relay", partitions=3, owner="kit")
CHILD = Path(__file__).with_name("relay_child.py")


class Stepped(Event):
    event_type: ClassVar[str] = "kit.relay.stepped"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "thing_id"

    thing_id: str
    step: int


class Env:
    def __init__(self, settings: ServiceSettings, mongo: Mongo) -> None:
        self.settings, self.mongo = settings, mongo
        self.things = mongo.collection("things")
        self.producers: list[AIOKafkaProducer] = []

    async def producer(self) -> AIOKafkaProducer:
        producer = build_producer(self.settings)
        await producer.start()
        self.producers.append(producer)
        return producer

    def relay(self, producer: Any, *, collection: Any = None, **kw: Any) -> Relay:
        return Relay(
            self.settings, [collection or self.things], producer, Outbox(self.settings), **kw
        )

    async def write(self, thing: str, *batches: list[int]) -> None:
        """One write per batch of steps: several events per write, numbered in order."""
        outbox = Outbox(self.settings)
        first, *rest = batches
        await outbox.insert(
            self.things, {"_id": thing}, [Stepped(thing_id=thing, step=s) for s in first]
        )
        for version, steps in enumerate(rest, start=1):
            events = [Stepped(thing_id=thing, step=s) for s in steps]
            await outbox.update(self.things, thing, version, {}, events)

    async def pending(self) -> int:
        return await self.things.count_documents({"outbox_pending": True})

    async def until_published(self, *, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while await self.pending():
                await asyncio.sleep(0.05)

    async def on_kafka(self) -> dict[str, list[tuple[int, int, str]]]:
        """Every record on the topic, up to its end now: (step, sequence, event id) per thing."""
        topic = self.settings.topic_name(TOPIC.name)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        out: dict[str, list[tuple[int, int, str]]] = {}
        try:
            parts = [TopicPartition(topic, p) for p in range(TOPIC.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            end = await consumer.end_offsets(parts)
            async with asyncio.timeout(20):
                while [p for p in parts if await consumer.position(p) < end[p]]:
                    for batch in (await consumer.getmany(timeout_ms=200)).values():
                        for r in batch:
                            body = json.loads(r.value)
                            out.setdefault(body["data"]["thing_id"], []).append(
                                (body["data"]["step"], body["sequence"], body["event_id"])
                            )
        finally:
            await consumer.stop()
        return out


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    settings = service_settings_for_test(service_name="kit", outbox_lease_seconds=2.0)
    await ensure_topics(settings, [TOPIC])
    mongo = Mongo(settings)
    await mongo.ensure_indexes({"things": OUTBOX_INDEXES})
    e = Env(settings, mongo)
    yield e
    for p in e.producers:
        await p.stop()
    await mongo.client.drop_database(settings.database)
    await mongo.close()


class SlowProducer:
    """A real producer whose sends can be delayed (per key) or held at a gate."""

    def __init__(
        self,
        inner: AIOKafkaProducer,
        *,
        delay: Callable[[bytes], float] = lambda k: 0.0,
        free: int = 10**9,
    ) -> None:
        self.inner, self.delay, self.free = inner, delay, free
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: Any) -> Any:
        if len(self.sent) >= self.free:
            self.waiting.set()
            await self.gate.wait()
        await asyncio.sleep(self.delay(key))
        future = await self.inner.send(topic, value=value, key=key, headers=headers)
        self.sent.append(json.loads(value)["event_id"])
        return future


class FailingSettle:
    """The things collection, but the settle of `key` fails (`times` times) as if the store
    dropped the connection."""

    def __init__(self, inner: Any, key: str, times: int) -> None:
        self.inner, self.key, self.times = inner, key, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def update_one(self, filter: Document, update: Document, **kw: Any) -> Any:
        if (
            self.times
            and filter.get("_id") == self.key
            and LEASE_OWNER in filter
            and "outbox_seq" in update.get("$inc", {})
        ):
            self.times -= 1
            raise AutoReconnect("injected: connection closed during settle")
        return await self.inner.update_one(filter, update, **kw)

    async def bulk_write(self, requests: list[Any], **kw: Any) -> Any:
        # A pass settles its drained documents in one bulk write (UpdateOne keeps its filter
        # in `_filter`).
        if self.times and any(getattr(r, "_filter", {}).get("_id") == self.key for r in requests):
            self.times -= 1
            raise AutoReconnect("injected: connection closed during settle")
        return await self.inner.bulk_write(requests, **kw)


class CountingCalls:
    """A collection that counts the store calls made through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def counted(*args: Any, **kw: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kw)

        return counted


def steps(found: dict[str, list[tuple[int, int, str]]]) -> dict[str, list[int]]:
    return {thing: [s for s, _, _ in records] for thing, records in found.items()}


def assert_at_least_once_in_order(records: list[tuple[int, int, str]], count: int) -> None:
    """Each event keeps one id and one number; first copies come 1..count in order; any later
    copy is a duplicate a consumer recognises by its sequence (never a gap, never reordered)."""
    by_id: dict[str, set[int]] = {}
    for _, seq, event_id in records:
        by_id.setdefault(event_id, set()).add(seq)
    assert all(len(seqs) == 1 for seqs in by_id.values()), by_id
    firsts, seen = [], set()
    for step, seq, event_id in records:
        if event_id not in seen:
            seen.add(event_id)
            firsts.append((step, seq))
    assert firsts == [(s, s + 1) for s in range(count)]


async def test_a_failing_settle_leaves_no_other_send_running_and_nothing_goes_out_twice(
    env: Env,
) -> None:
    await env.write("x", [0])
    await env.write("y", [0], [1], [2])
    # y's sends are slow, so they are still going when x's settle fails.
    producer = SlowProducer(await env.producer(), delay=lambda key: 0.4 if key == b"y" else 0.0)
    collection = FailingSettle(env.things, "x", times=1)
    relay = env.relay(producer, collection=collection)
    task = asyncio.create_task(relay.run())
    try:
        await env.until_published()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    found = await env.on_kafka()
    # Before: the failed settle ended the pass while y's sends went on; the next pass claimed y
    # again (its own lease) and sent y's events a second time, interleaved: 0 1 0 2 1 2.
    assert steps(found) == {"x": [0], "y": [0, 1, 2]}
    assert [seq for _, seq, _ in found["y"]] == [1, 2, 3]
    assert collection.times == 0  # the fault did happen


async def test_a_sender_slower_than_its_lease_keeps_it_by_renewal(env: Env) -> None:
    await env.write("slow", [0, 1, 2, 3])
    slow = SlowProducer(await env.producer(), delay=lambda key: 1.0)  # 4 s of 2 s leases
    other = await env.producer()
    relays = [env.relay(slow), env.relay(other)]
    tasks = [asyncio.create_task(relays[0].run())]
    async with asyncio.timeout(10):
        while not slow.sent:  # the slow relay holds the document: now the other one polls
            await asyncio.sleep(0.02)
    tasks.append(asyncio.create_task(relays[1].run()))
    try:
        await env.until_published()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    found = await env.on_kafka()
    # Before: the lease ran out after 2 s and the second relay sent the same events again.
    assert steps(found) == {"slow": [0, 1, 2, 3]}
    assert len(slow.sent) == 4


async def test_events_of_a_killed_relay_go_out_within_seconds_with_the_same_ids_and_numbers() -> (
    None
):
    # The default lease (what a deployment runs with), not the fixture's short one.
    settings = service_settings_for_test(service_name="kit")
    await ensure_topics(settings, [TOPIC])
    mongo = Mongo(settings)
    e = Env(settings, mongo)
    child_env = {
        **os.environ,
        "MONGO_URL": settings.mongo_url,
        "MONGO_DB": settings.mongo_db,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "SERVICE_NAME": "kit",
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), env=child_env, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        # The child wrote 4 things x 5 events (3 writes each), sent 6 of them and hangs on the
        # 7th, holding (and renewing) the leases of the documents it is sending.
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line.strip() == b"holding"
        assert await e.things.count_documents({LEASE_OWNER: {"$ne": None}}) > 0
        child.send_signal(signal.SIGKILL)
        await asyncio.wait_for(child.wait(), 10)
        killed = asyncio.get_running_loop().time()
        relay = e.relay(await e.producer())
        task = asyncio.create_task(relay.run())
        try:
            await e.until_published(timeout=20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        took = asyncio.get_running_loop().time() - killed
        found = await e.on_kafka()
    finally:
        if child.returncode is None:
            child.kill()
            await asyncio.wait_for(child.wait(), 10)
        for p in e.producers:
            await p.stop()
        await mongo.client.drop_database(settings.database)
        await mongo.close()
    print(f"published {sum(map(len, found.values()))} records {took:.2f} s after the SIGKILL")
    # Before: the 30 s lease kept them waiting; now at most one 5 s lease and one scan.
    assert took < settings.outbox_lease_seconds + 3
    assert set(found) == {f"thing-{t}" for t in range(4)}
    for records in found.values():
        assert_at_least_once_in_order(records, 5)


async def test_clocks_a_minute_apart_neither_steal_a_live_lease_nor_write_an_expired_one(
    env: Env,
) -> None:
    def skewed(minutes: int) -> ServerClock:
        clock = env.mongo.collection(CLOCK_COLLECTION)
        return ServerClock(clock, local=lambda: utcnow() + timedelta(minutes=minutes))

    await env.write("a", [0, 1])
    await env.write("b", [0, 1])
    ahead = SlowProducer(await env.producer(), free=1)  # holds its document after one send
    behind = SlowProducer(await env.producer(), free=1)
    fast, slow = env.relay(ahead, clock=skewed(+1)), env.relay(behind, clock=skewed(-1))
    # The relay whose clock is behind claims "a" (oldest) and holds it; its lease must not be
    # over already (before: its local "now" + 1 s was a minute in the past).
    holding_a = asyncio.create_task(slow._publish(env.things, ["a"]))
    await asyncio.wait_for(behind.waiting.wait(), 10)
    doc = await env.things.find_one({"_id": "a"})
    assert doc is not None
    store_now = await ServerClock(env.mongo.collection(CLOCK_COLLECTION)).now()
    lease = timedelta(seconds=env.settings.outbox_lease_seconds)
    assert store_now < doc[LEASE_UNTIL].replace(tzinfo=UTC) <= store_now + lease
    # The relay whose clock is ahead takes "b" and must leave "a" alone: to its clock, a's
    # lease ended a minute ago (before: it stole it, and a's events went out twice).
    holding_b = asyncio.create_task(fast._publish(env.things, ["a", "b"]))
    await asyncio.wait_for(ahead.waiting.wait(), 10)
    # Time passes: both hold their documents past a lease length and a half, by renewal.
    await asyncio.sleep(1.5 * env.settings.outbox_lease_seconds)
    assert await fast.publish_pending() == 0  # "a" leased by the slow one, "b" by itself
    assert await slow.publish_pending() == 0  # and "b" is not free for the one behind either
    ahead.gate.set()
    behind.gate.set()
    assert await holding_a + await holding_b == 4
    found = await env.on_kafka()
    assert steps(found) == {"a": [0, 1], "b": [0, 1]}


async def test_a_sender_that_lost_its_lease_stops_and_does_not_undo_the_new_owner(
    env: Env,
) -> None:
    await env.write("t", [0, 1, 2, 3])
    stalled = SlowProducer(await env.producer(), free=1)
    first = env.relay(stalled)
    sending = asyncio.create_task(first._publish(env.things, ["t"]))
    await asyncio.wait_for(stalled.waiting.wait(), 10)  # sent step 0, stuck before step 1
    # As if the first relay had been paused past its lease: the lease is over in the store.
    await env.things.update_one(
        {"_id": "t"}, {"$set": {LEASE_UNTIL: datetime(2000, 1, 1, tzinfo=UTC)}}
    )
    second = env.relay(await env.producer())
    assert await second._publish(env.things, ["t"]) == 4
    # The first relay learns at its next renewal and stops (before: it waited at the gate for
    # ever, then sent steps 1-3 again and settled over the new owner's work).
    assert await asyncio.wait_for(sending, 5) == 0
    stalled.gate.set()
    doc = await env.things.find_one({"_id": "t"})
    assert doc is not None
    assert (doc["outbox"], doc["outbox_seq"], doc["outbox_pending"]) == ([], 4, False)
    assert len(stalled.sent) == 1
    found = await env.on_kafka()
    assert [(s, q) for s, q, _ in found["t"]] == [(0, 1), (0, 1), (1, 2), (2, 3), (3, 4)]


async def test_a_scan_skips_leased_documents_and_takes_the_oldest_first(env: Env) -> None:
    outbox = Outbox(env.settings)
    now = utcnow()

    def doc(thing: str, age: int, leased: bool) -> Document:
        return {
            "_id": thing,
            "version": 1,
            "outbox": outbox.entries([Stepped(thing_id=thing, step=0)]),
            "outbox_pending": True,
            "outbox_since": now - timedelta(minutes=age),
            "outbox_seq": 0,
            LEASE_OWNER: "stuck-elsewhere" if leased else None,
            LEASE_UNTIL: now + timedelta(hours=1) if leased else None,
        }

    # Stuck documents come first in natural order and are the oldest; then free ones, newest
    # first, so only a scan that sorts finds the oldest free ones.
    await env.things.insert_many(
        [doc(f"stuck-{i}", 100 + i, True) for i in range(3)]
        + [doc(f"free-{age}", age, False) for age in range(1, 6)]
    )
    relay = env.relay(await env.producer(), batch=3)
    assert await relay.publish_pending() == 3
    left = {d["_id"] for d in await env.things.find({"outbox_pending": True}).to_list()}
    assert left == {"stuck-0", "stuck-1", "stuck-2", "free-1", "free-2"}

    # The scan's gauges: 5 documents wait, the oldest (a stuck one) for 102 minutes.
    labels = {"database": env.settings.database, "collection": "things"}
    assert REGISTRY.get_sample_value("icr_outbox_backlog", labels) == 5
    age = REGISTRY.get_sample_value("icr_outbox_oldest_pending_seconds", labels)
    assert age is not None
    assert 102 * 60 - 5 < age < 102 * 60 + 60


async def test_events_are_numbered_per_aggregate_and_keep_their_number_when_republished(
    env: Env,
) -> None:
    await env.write("n", [0, 1], [2, 3, 4], [5])
    await env.write("m", [0], [1, 2])
    # The settle of "n" keeps failing: its events went out but stay in the outbox. (One pass
    # settles its documents together, so n and m go in passes of their own, oldest first.)
    broken = env.relay(
        await env.producer(), collection=FailingSettle(env.things, "n", times=100), batch=1
    )
    assert await broken.publish_pending() == 0  # n's 6 were sent but count as unsettled
    assert await broken.publish_pending() == 3  # m's; n is skipped while its lease lives
    assert (await env.things.find_one({"_id": "n"}))["outbox_seq"] == 0  # type: ignore[index]
    # Another relay takes it over once the lease runs out and sends the same events again.
    relay = env.relay(await env.producer())
    task = asyncio.create_task(relay.run())
    try:
        await env.until_published()
        outbox = Outbox(env.settings)
        await outbox.update(env.things, "n", 3, {}, [Stepped(thing_id="n", step=s) for s in (6, 7)])
        await env.until_published()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    found = await env.on_kafka()
    assert [(s, q) for s, q, _ in found["m"]] == [(0, 1), (1, 2), (2, 3)]
    assert [q for _, q, _ in found["n"]] == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 7, 8]
    assert_at_least_once_in_order(found["n"], 8)


async def test_the_outbox_refuses_a_collection_no_relay_publishes(env: Env) -> None:
    outbox = Outbox(env.settings, ["things"])
    stray = env.mongo.collection("stray")
    with pytest.raises(UnregisteredOutbox, match="stray"):
        await outbox.insert(stray, {"_id": "s"}, [Stepped(thing_id="s", step=0)])
    assert await stray.count_documents({}) == 0
    await outbox.insert(env.things, {"_id": "s"}, [Stepped(thing_id="s", step=0)])


async def test_a_service_whose_store_holds_events_it_does_not_relay_fails_at_start(
    env: Env,
) -> None:
    # Events left in a collection an earlier version relayed and this one's spec forgot.
    stray = env.mongo.collection("stray")
    await env.mongo.ensure_indexes({"stray": OUTBOX_INDEXES})
    await Outbox(env.settings).insert(stray, {"_id": "s"}, [Stepped(thing_id="s", step=0)])
    spec = ServiceSpec(settings=env.settings, produces=[TOPIC], outbox_collections=["things"])
    async with running_app(create_app(spec, title="kit test")) as http:
        async with asyncio.timeout(20):
            while "stray" not in (body := (await http.get("/health/ready")).json())["checks"].get(
                "startup", ""
            ):
                await asyncio.sleep(0.05)
        assert "cannot start" in body["checks"]["startup"]
        assert "relay" not in {task.get_name() for task in asyncio.all_tasks()}


async def test_a_pass_costs_four_store_calls_however_many_documents_it_publishes(env: Env) -> None:
    for name in ("c", "d", "e"):
        await env.write(name, [0, 1, 2])
    counted = CountingCalls(env.things)
    relay = env.relay(await env.producer(), collection=counted)
    await relay.clock.now()  # the clock's own round trip, made once per refresh, not per event
    assert await relay._publish(counted, ["c", "d", "e"]) == 9  # type: ignore[arg-type]
    # Before: a claim per document, the settle, then a third write to clear the pending flag
    # (issue 7 counts every call on the hot path). Now a pass claims its documents in two
    # calls (mark, read back) and settles them in two (one bulk write, one read of what it
    # did not match), however many documents it has.
    assert counted.calls == ["update_many", "find", "bulk_write", "find"]
    for name in ("c", "d", "e"):
        doc = await env.things.find_one({"_id": name})
        assert doc is not None
        assert (doc["outbox"], doc["outbox_seq"], doc["outbox_pending"]) == ([], 3, False)
        assert "outbox_since" not in doc


async def test_a_document_written_again_after_publishing_keeps_its_place_oldest_first(
    env: Env,
) -> None:
    relay = env.relay(await env.producer(), batch=1)
    await env.write("again", [0])
    assert await relay._publish(env.things, ["again"]) == 1
    await env.write("older", [0])
    a_minute_ago = utcnow() - timedelta(minutes=1)  # no tie within the store's millisecond
    await env.things.update_one({"_id": "older"}, {"$set": {"outbox_since": a_minute_ago}})
    await Outbox(env.settings).update(
        env.things, "again", 1, {}, [Stepped(thing_id="again", step=1)]
    )
    again = await env.things.find_one({"_id": "again"})
    assert again is not None
    assert again["outbox_pending"]
    # Before: the settle left `outbox_since: None`, which `$min` keeps (null sorts before every
    # date): the document looked older than any other, and the oldest-age gauge skipped it.
    assert isinstance(again["outbox_since"], datetime)
    assert await relay.publish_pending() == 1
    left = [d["_id"] for d in await env.things.find({"outbox_pending": True}).to_list()]
    assert left == ["again"]  # "older" went first


async def test_events_written_while_a_document_is_sent_go_out_next_with_the_next_numbers(
    env: Env,
) -> None:
    await env.write("p", [0, 1])
    written = utcnow() - timedelta(hours=1)  # as if steps 0 and 1 had waited an hour
    await env.things.update_one({"_id": "p"}, {"$set": {"outbox_since": written}})
    stalled = SlowProducer(await env.producer(), free=1)
    relay = env.relay(stalled)
    sending = asyncio.create_task(relay._publish(env.things, ["p"]))
    await asyncio.wait_for(stalled.waiting.wait(), 10)  # step 0 sent, step 1 held
    await Outbox(env.settings).update(env.things, "p", 1, {}, [Stepped(thing_id="p", step=2)])
    stalled.gate.set()
    assert await asyncio.wait_for(sending, 10) == 2
    doc = await env.things.find_one({"_id": "p"})
    assert doc is not None
    assert ([e["envelope"]["data"]["step"] for e in doc["outbox"]], doc["outbox_seq"]) == ([2], 2)
    assert doc["outbox_pending"]
    assert doc["outbox_lease_owner"] is None
    # Before: the hour of step 0, sent already; now the claim's time, which step 2 came after.
    assert doc["outbox_since"] > written + timedelta(minutes=59)
    assert await relay._publish(env.things, ["p"]) == 1
    found = await env.on_kafka()
    assert [(s, q) for s, q, _ in found["p"]] == [(0, 1), (1, 2), (2, 3)]


class SlowSettleAnswer:
    """The things collection, but the answer to a settle comes back late (it is applied at once):
    a renewal of the lease meets the settle's release meanwhile."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner, self.delay = inner, delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def bulk_write(self, requests: list[Any], **kw: Any) -> Any:
        # The settle of a pass (it frees the leases) answers late.
        result = await self.inner.bulk_write(requests, **kw)
        await asyncio.sleep(self.delay)
        return result


async def test_a_renewal_that_meets_the_settle_does_not_cancel_it(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    await env.write("r", [0, 1, 2])
    slow = SlowSettleAnswer(env.things, delay=env.settings.outbox_lease_seconds / 2)
    relay = env.relay(await env.producer(), collection=slow)
    # Before: the renewal found the token gone (our own release), raised LeaseLost and cancelled
    # the settle while it waited for its answer: the pass counted nothing, logged a lost lease.
    assert await relay._publish(slow, ["r"]) == 3  # type: ignore[arg-type]
    assert "lease lost" not in caplog.text
    doc = await env.things.find_one({"_id": "r"})
    assert doc is not None
    assert (doc["outbox"], doc["outbox_seq"], doc["outbox_pending"]) == ([], 3, False)
