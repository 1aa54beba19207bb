"""Consumers under injected faults, on the real broker and store: a rebalance mid-batch, a handler
slower than its budget, redelivery of a dead-lettered event, a version from the future, holds
re-driven or skipped by the operator command, sequence numbers, topic settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import AutoReconnect

from icr.contracts import Envelope, Event, Registry
from icr.contracts.topics import Topic
from icr.kit.consumer import ConsumerRunner, Subscription, dead_letter_topic
from icr.kit.holds import HOLDS_COLLECTION, PARKED_COLLECTION, Delivery, Holds
from icr.kit.inbox import Inbox
from icr.kit.kafka import build_producer, encode, ensure_topics
from icr.kit.mongo import Mongo, record_once
from icr.kit.settings import ServiceSettings
from icr.kit.testing import service_settings_for_test

pytestmark = pytest.mark.infra

TOPIC = Topic("kit.test.ledger", partitions=2, owner="kit")


class Moved(Event):
    event_type: ClassVar[str] = "kit.ledger.moved"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "account"

    account: str
    n: int


class MovedV2(Moved):
    event_version: ClassVar[int] = 2

    note: str


class Noted(Event):
    """On the same topic; the test groups do not handle it."""

    event_type: ClassVar[str] = "kit.ledger.noted"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "account"

    account: str


class Audited(Event):
    """Another kind of aggregate on the same topic, with ids of its own (as departments and people
    share the directory topic): its sequence numbers count its own events."""

    event_type: ClassVar[str] = "kit.audit.audited"
    topic: ClassVar[Topic] = TOPIC
    aggregate_field: ClassVar[str] = "auditor"

    auditor: str


EVENTS = Registry()
EVENTS.register(Moved, Noted, Audited)

EVENTS_V2 = Registry()
EVENTS_V2.register(Moved, MovedV2, Noted, Audited)


@EVENTS_V2.upcaster("kit.ledger.moved", 1)
def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "note": ""}


class Rig:
    def __init__(self, settings: ServiceSettings, mongo: Mongo, producer: AIOKafkaProducer):
        self.settings = settings
        self.mongo = mongo
        self.producer = producer
        self.group = "kit.ledger"
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def full_group(self) -> str:
        return self.settings.topic_name(self.group)

    @property
    def topic(self) -> str:
        return self.settings.topic_name(TOPIC.name)

    @property
    def dlq(self) -> str:
        return self.settings.topic_name(dead_letter_topic(self.group))

    def runner(
        self,
        handle: Callable[[Event, Envelope], Awaitable[None]],
        *,
        events: Registry = EVENTS,
        settings: ServiceSettings | None = None,
    ) -> ConsumerRunner:
        sub = Subscription(group=self.group)
        sub.on(Moved)(handle)
        settings = settings or self.settings
        inbox = Inbox(self.mongo.collection("inbox"), settings.topic_name(self.group))
        return ConsumerRunner(settings, sub, inbox, self.producer, events=events)

    def start(self, runner: ConsumerRunner) -> asyncio.Task[None]:
        task = asyncio.create_task(runner.run())
        self.tasks.append(task)
        return task

    async def publish(self, *envelopes: Envelope, partition: int | None = None) -> None:
        for e in envelopes:
            await self.producer.send_and_wait(
                self.topic, encode(e), key=e.aggregate_id.encode(), partition=partition
            )

    def counted(self, outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "icr_events_consumed_total",
            {"group": self.full_group, "topic": self.topic, "outcome": outcome},
        )
        return value or 0.0

    def rebalances(self, kind: str) -> float:
        value = REGISTRY.get_sample_value(
            "icr_consumer_rebalances_total", {"group": self.full_group, "kind": kind}
        )
        return value or 0.0

    async def end_offset(self, topic: str) -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            return (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()

    async def committed(self) -> dict[int, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.full_group)
            return {tp.partition: meta.offset for tp, meta in offsets.items()}
        finally:
            await admin.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    settings = service_settings_for_test(
        service_name="kit", consumer_max_attempts=3, consumer_hold_check_seconds=0.2
    )
    await ensure_topics(settings, [TOPIC], [dead_letter_topic("kit.ledger")])
    mongo = Mongo(settings)
    producer = build_producer(settings)
    await producer.start()
    r = Rig(settings, mongo, producer)
    yield r
    for task in r.tasks:
        task.cancel()
    await asyncio.gather(*r.tasks, return_exceptions=True)
    await producer.stop()
    await mongo.client.drop_database(settings.database)
    await mongo.close()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 40) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not reached in {timeout}s: {what}") from None


def moved(account: str, n: int, *, sequence: int | None = None, version: int = 1) -> Envelope:
    envelope = Envelope.wrap(Moved(account=account, n=n), source="kit", sequence=sequence)
    if version != 1:
        envelope = envelope.model_copy(update={"version": version, "data": {**envelope.data}})
    return envelope


async def test_a_rebalance_mid_batch_never_has_two_members_on_one_record(rig: Rig) -> None:
    # Forty records on two partitions; every handler call takes 0.3 s, so member A is deep inside
    # its first batch when B joins the group, and B leaves again while work remains.
    envelopes = [moved(f"acc{i}", i) for i in range(40)]
    for i, e in enumerate(envelopes):
        await rig.publish(e, partition=i % 2)
    partition_of = {e.event_id: i % 2 for i, e in enumerate(envelopes)}
    working_on: dict[int, str] = {}  # partition -> the member inside a handler for it
    overlaps: list[str] = []
    calls: Counter[str] = Counter()
    by_member: dict[str, list[str]] = {"A": [], "B": []}

    def handler(member: str) -> Callable[[Event, Envelope], Awaitable[None]]:
        async def handle(event: Event, envelope: Envelope) -> None:
            partition = partition_of[envelope.event_id]
            other = working_on.get(partition)
            if other is not None and other != member:
                overlaps.append(f"partition {partition}: {other} and {member}")
            working_on[partition] = member
            calls[envelope.event_id] += 1
            try:
                await asyncio.sleep(0.3)
            finally:
                if working_on.get(partition) == member:
                    del working_on[partition]
            by_member[member].append(envelope.event_id)

        return handle

    rig.start(rig.runner(handler("A")))

    async def a_mid_batch() -> bool:
        return len(by_member["A"]) >= 2

    await eventually(a_mid_batch, "A handled two records")
    # B's client id sorts first, so the assignor gives B partition 0: the one A is busy with.
    b_settings = service_settings_for_test(
        service_name="a-kit",
        kafka_topic_prefix=rig.settings.kafka_topic_prefix,
        mongo_db=rig.settings.mongo_db,
    )
    runner_b = rig.runner(handler("B"), settings=b_settings)
    b = rig.start(runner_b)

    async def b_working() -> bool:
        return len(by_member["B"]) >= 1

    await eventually(b_working, f"B got a partition and handled a record ({by_member})")
    await runner_b.stop()  # B leaves the group (gracefully: a crash would redo its record)
    await asyncio.wait_for(b, 30)

    async def all_done() -> bool:
        return set(calls) == {e.event_id for e in envelopes}

    await eventually(all_done, "every record handled")

    async def committed_to_the_end() -> bool:
        return await rig.committed() == {0: 20, 1: 20}

    await eventually(committed_to_the_end, "offsets committed to the end of both partitions")
    assert overlaps == []
    assert [n for n in calls.values() if n != 1] == []
    assert rig.rebalances("revoked") >= 2  # B joining and B leaving, both seen by A


async def test_a_handler_slower_than_its_budget_does_not_get_the_member_evicted(rig: Rig) -> None:
    settings = service_settings_for_test(
        service_name="kit",
        kafka_topic_prefix=rig.settings.kafka_topic_prefix,
        mongo_db=rig.settings.mongo_db,
        consumer_max_attempts=3,
        consumer_max_poll_interval_ms=3000,
        consumer_record_budget_seconds=1.0,
    )
    outage_until = 0.0
    slow_attempts = 0
    late_attempts = 0
    handled: list[str] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        nonlocal outage_until, slow_attempts, late_attempts
        assert isinstance(event, Moved)
        if event.account == "slow":  # always slower than the budget: a poison event
            slow_attempts += 1
            await asyncio.sleep(30)
        if event.account == "late":  # slower than the budget twice, then quick
            late_attempts += 1
            if late_attempts <= 2:
                await asyncio.sleep(30)
        if event.account == "outage":  # the store is unreachable for 2.5 budgets
            outage_until = outage_until or time.monotonic() + 2.5
            if time.monotonic() < outage_until:
                raise AutoReconnect("store unreachable")
        handled.append(event.account)

    for account in ("slow", "late", "outage", "ok"):
        await rig.publish(moved(account, 1), partition=0)
    rig.start(rig.runner(handle, settings=settings))

    async def done() -> bool:
        return handled == ["late", "outage", "ok"]

    await eventually(done, "the quick, late and outage events handled")

    async def committed() -> bool:
        return (await rig.committed()).get(0) == 4

    await eventually(committed, "offsets committed")
    assert slow_attempts == 3
    assert await rig.end_offset(rig.dlq) == 1
    # One assignment and no revocation: the member was never evicted nor rebalanced.
    assert (rig.rebalances("assigned"), rig.rebalances("revoked")) == (1, 0)


async def test_a_dead_lettered_event_is_not_dead_lettered_again_on_redelivery(rig: Rig) -> None:
    async def handle(event: Event, envelope: Envelope) -> None:
        raise ValueError("poison")

    await rig.publish(moved("p", 13), partition=0)
    first = rig.start(rig.runner(handle))

    async def dead() -> bool:
        return (await rig.committed()).get(0) == 1

    await eventually(dead, "the poison event dead-lettered and committed")
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert await rig.end_offset(rig.dlq) == 1
    # Rewind the group as a lost commit would, and let a new member consume it again.
    rewind = AIOKafkaConsumer(
        bootstrap_servers=rig.settings.kafka_bootstrap_servers,
        group_id=rig.full_group,
        enable_auto_commit=False,
    )
    await rewind.start()
    rewind.assign([TopicPartition(rig.topic, 0)])
    await rewind.commit({TopicPartition(rig.topic, 0): 0})
    await rewind.stop()
    duplicates = rig.counted("duplicate")
    rig.start(rig.runner(handle))

    async def redelivered() -> bool:
        return rig.counted("duplicate") > duplicates and (await rig.committed()).get(0) == 1

    await eventually(redelivered, "the redelivery seen as a duplicate")
    assert await rig.end_offset(rig.dlq) == 1


async def test_an_unknown_version_holds_its_aggregate_until_a_consumer_knows_it(rig: Rig) -> None:
    applied: list[tuple[str, int, str]] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        assert isinstance(event, Moved)
        applied.append((event.account, event.n, getattr(event, "note", "-")))

    future = Envelope(
        type="kit.ledger.moved",
        version=2,
        source="kit",
        aggregate_id="u",
        data={"account": "u", "n": 1, "note": "from v2"},
    )
    await rig.publish(future, moved("u", 2), moved("w", 3), partition=0)
    old = rig.start(rig.runner(handle))

    async def w_applied() -> bool:
        return applied == [("w", 3, "-")]

    await eventually(w_applied, "the other aggregate applied")
    holds = rig.mongo.collection(HOLDS_COLLECTION)

    async def parked() -> bool:
        return await rig.mongo.collection(PARKED_COLLECTION).count_documents({}) == 1

    await eventually(parked, "u's next event parked")
    hold = await holds.find_one({"aggregate_id": "u"})
    assert hold is not None
    assert hold["reason"] == "unknown_version"
    assert await rig.end_offset(rig.dlq) == 0
    old.cancel()
    await asyncio.gather(old, return_exceptions=True)

    # The upgrade: a consumer that knows v2 starts and applies u's events in their order.
    rig.start(rig.runner(handle, events=EVENTS_V2))

    async def released() -> bool:
        return await holds.count_documents({}) == 0 and len(applied) == 3

    await eventually(released, "the hold released")
    assert applied[1:] == [("u", 1, "from v2"), ("u", 2, "")]
    assert await rig.end_offset(rig.dlq) == 0


async def holds_command(rig: Rig, *args: str) -> str:
    code, out, err = await run_holds_command(rig, *args)
    assert code == 0, err
    return out


async def run_holds_command(
    rig: Rig, *args: str, service: str = "kit", **env_vars: str
) -> tuple[int | None, str, str]:
    env = {
        **os.environ,
        "MONGO_URL": rig.settings.mongo_url,
        "MONGO_DB": rig.settings.mongo_db,
        "KAFKA_TOPIC_PREFIX": rig.settings.kafka_topic_prefix,
        **env_vars,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "icr.kit.holds",
        *args,
        "--service",
        service,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def test_the_holds_command_refuses_unclear_input(rig: Rig) -> None:
    holds = rig.mongo.collection(HOLDS_COLLECTION)
    for group in ("kit.one", "kit.two"):
        await Holds(
            holds, rig.mongo.collection(PARKED_COLLECTION), rig.settings.topic_name(group)
        ).hold(
            Delivery(topic=rig.topic, partition=0, offset=0, key=b"a", value=b"{}"),
            aggregate_id="a",
            event_id="e",
            event_type="kit.ledger.moved",
            version=1,
            sequence=None,
            reason="dead_lettered",
            error="boom",
        )
    # A misspelt service names a database that does not exist: not "0 hold(s)". (A random name:
    # the stand-in creates a database on any read, so an old command's run leaves it behind.)
    code, _, err = await run_holds_command(
        rig, "list", service=f"kti{uuid.uuid4().hex[:8]}", MONGO_DB=""
    )
    assert (code, "no database" in err) == (2, True), err
    # Held in two groups: a skip must name the group, and then touches only that one.
    code, _, err = await run_holds_command(rig, "skip", "--aggregate", "a")
    assert (code, "--group" in err) == (2, True), err
    assert await holds.count_documents({"action": {"$ne": None}}) == 0
    code, _, err = await run_holds_command(rig, "skip", "--aggregate", "a", "--group", "kit.two")
    assert code == 0, err
    marked = [d["group"] async for d in holds.find({"action": "skip"})]
    assert marked == [rig.settings.topic_name("kit.two")]
    code, out, err = await run_holds_command(rig, "list", "--group", "kit.on")
    assert (code, out.strip(), rig.settings.topic_name("kit.one") in err) == (0, "0 hold(s)", True)
    code, _, err = await run_holds_command(rig, "redrive", "--aggregate", "nope")
    assert (code, "no hold" in err) == (1, True), err
    code, _, err = await run_holds_command(rig, "redrive")
    assert (code, "--aggregate" in err) == (2, True), err


async def held_then(rig: Rig, action: str) -> list[int]:
    """h:1 applied, h:13 dead-lettered (h held), h:2 and h:3 parked while k:5 is applied; then
    the operator command; returns what the handler applied for h, in order."""
    broken = True
    applied: list[tuple[str, int]] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        assert isinstance(event, Moved)
        if event.n == 13 and broken:
            raise ValueError("unlucky")
        applied.append((event.account, event.n))

    await rig.publish(*(moved("h", n) for n in (1, 13, 2, 3)), moved("k", 5), partition=0)
    rig.start(rig.runner(handle))

    async def held() -> bool:
        parked = await rig.mongo.collection(PARKED_COLLECTION).count_documents({})
        return ("k", 5) in applied and parked == 2

    await eventually(held, "h held with two parked events, k applied")
    assert applied == [("h", 1), ("k", 5)]
    assert await rig.end_offset(rig.dlq) == 1
    listing = await holds_command(rig, "list")
    assert "h  reason=dead_lettered" in listing
    assert "parked=2" in listing
    broken = False
    await holds_command(rig, action, "--aggregate", "h", "--group", "kit.ledger")

    async def released() -> bool:
        return await rig.mongo.collection(HOLDS_COLLECTION).count_documents({}) == 0

    await eventually(released, "the hold released by the running consumer")
    assert await rig.mongo.collection(PARKED_COLLECTION).count_documents({}) == 0
    # The aggregate flows again after the release.
    await rig.publish(moved("h", 4), partition=0)

    async def flowing() -> bool:
        return ("h", 4) in applied

    await eventually(flowing, "h's next event applied")
    return [n for account, n in applied if account == "h"]


async def test_operator_redrives_a_held_aggregate_in_order(rig: Rig) -> None:
    assert await held_then(rig, "redrive") == [1, 13, 2, 3, 4]


async def test_operator_skips_the_dead_event_of_a_held_aggregate(rig: Rig) -> None:
    assert await held_then(rig, "skip") == [1, 2, 3, 4]


async def test_sequence_numbers_skip_stale_events_and_count_gaps(rig: Rig) -> None:
    applied: list[int] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        assert envelope.sequence is not None
        applied.append(envelope.sequence)

    noted = Envelope.wrap(Noted(account="s"), source="kit", sequence=6)
    # Distinct event ids throughout: only the sequence tells the duplicate and the stale one.
    await rig.publish(
        moved("s", 1, sequence=1),
        moved("s", 2, sequence=2),
        moved("s", 2, sequence=2),
        moved("s", 1, sequence=1),
        moved("s", 5, sequence=5),
        noted,
        moved("s", 7, sequence=7),
        partition=0,
    )
    rig.start(rig.runner(handle))

    async def done() -> bool:
        return (await rig.committed()).get(0) == 7

    await eventually(done, "all seven records consumed")
    assert applied == [1, 2, 5, 7]
    assert rig.counted("stale") == 2
    gaps = REGISTRY.get_sample_value(
        "icr_consumer_sequence_gaps_total", {"group": rig.full_group, "topic": rig.topic}
    )
    assert gaps == 1  # 2 -> 5; the ignored 6 still advanced the position, so 7 is in step
    position = await rig.mongo.collection("consumer_positions").find_one({})
    assert position is not None
    assert position["seq"] == 7


async def test_two_kinds_of_aggregate_with_one_id_on_one_topic_keep_their_own_positions(
    rig: Rig,
) -> None:
    # The relay numbers each document's events from 1: account "x" and auditor "x" both have a
    # sequence 1 and 2, and neither kind's events may be skipped as stale because of the other's.
    applied: list[tuple[str, int | None]] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        applied.append((type(event).__name__, envelope.sequence))

    def audited(sequence: int) -> Envelope:
        return Envelope.wrap(Audited(auditor="x"), source="kit", sequence=sequence)

    await rig.publish(
        moved("x", 1, sequence=1), audited(1), moved("x", 2, sequence=2), audited(2), partition=0
    )
    sub = Subscription(group=rig.group)
    sub.on(Moved)(handle)
    sub.on(Audited)(handle)
    inbox = Inbox(rig.mongo.collection("inbox"), rig.full_group)
    rig.start(ConsumerRunner(rig.settings, sub, inbox, rig.producer, events=EVENTS))

    async def done() -> bool:
        return (await rig.committed()).get(0) == 4

    await eventually(done, "all four records consumed")
    assert applied == [("Moved", 1), ("Audited", 1), ("Moved", 2), ("Audited", 2)]
    assert rig.counted("stale") == 0


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if isinstance(target, str):
            self.seen[(event.command_name, target)] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_events_a_group_ignores_cost_no_store_call_each(rig: Rig) -> None:
    # The feedback group handles one type of the requests topic and ignores the other dozen; an
    # ignored event must not cost a read and a write of the store each (issue 7).
    applied: list[int | None] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        applied.append(envelope.sequence)

    commands = _Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        rig.settings.mongo_url, event_listeners=[commands]
    )
    try:
        inbox = Inbox(client[rig.settings.mongo_db]["inbox"], rig.full_group)
        sub = Subscription(group=rig.group)
        sub.on(Moved)(handle)
        noted = [
            Envelope.wrap(Noted(account=f"q{i}"), source="kit", sequence=n)
            for i in range(4)
            for n in (1, 2, 3)
        ]
        await rig.publish(*noted, moved("q0", 4, sequence=4), partition=0)
        rig.start(ConsumerRunner(rig.settings, sub, inbox, rig.producer, events=EVENTS))

        async def done() -> bool:
            return (await rig.committed()).get(0) == 13

        await eventually(done, "all thirteen records consumed")
    finally:
        await client.close()
    assert applied == [4]
    gaps = REGISTRY.get_sample_value(
        "icr_consumer_sequence_gaps_total", {"group": rig.full_group, "topic": rig.topic}
    )
    assert not gaps  # 1-3 ignored, 4 applied: in step
    writes = commands.seen[("update", "consumer_positions")]
    reads = commands.seen[("find", "consumer_positions")]
    # One read for the handled event; one write per commit for it and the ignored ones.
    assert reads <= 1, commands.seen
    assert writes <= 3, commands.seen
    positions = rig.mongo.collection("consumer_positions")
    assert await positions.count_documents({}) == 4
    assert (await positions.find_one({"_id": {"$regex": "q0$"}}) or {}).get("seq") == 4


async def test_new_aggregates_of_a_batch_cost_one_position_read(rig: Rig) -> None:
    # Every submitted request is an aggregate the consumer meets for the first time: its
    # position is read for the batch, not once per event.
    applied: list[str] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        assert isinstance(event, Moved)
        applied.append(event.account)

    commands = _Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        rig.settings.mongo_url, event_listeners=[commands]
    )
    accounts = [f"n{i}" for i in range(8)]
    try:
        inbox = Inbox(client[rig.settings.mongo_db]["inbox"], rig.full_group)
        sub = Subscription(group=rig.group)
        sub.on(Moved)(handle)
        await rig.publish(*(moved(a, 1, sequence=1) for a in accounts), partition=0)
        runner = ConsumerRunner(rig.settings, sub, inbox, rig.producer, events=EVENTS)
        rig.start(runner)

        async def done() -> bool:
            return (await rig.committed()).get(0) == len(accounts)

        await eventually(done, "all records consumed")
        # A redelivered n0 in a later batch: the cached position still skips it.
        await rig.publish(moved("n0", 1, sequence=1), partition=0)

        async def skipped() -> bool:
            return (await rig.committed()).get(0) == len(accounts) + 1

        await eventually(skipped, "the redelivery consumed")
    finally:
        await client.close()
    assert applied == accounts
    assert rig.counted("stale") == 1
    reads = commands.seen[("find", "consumer_positions")]
    assert reads <= 2, commands.seen  # one per batch (the records may come in two)
    # Their positions are written with the commits, not one write per applied event.
    writes = commands.seen[("update", "consumer_positions")]
    assert writes <= 3, commands.seen


async def test_topics_are_created_with_min_insync_replicas_and_dead_letters_kept() -> None:
    settings = service_settings_for_test(service_name="kit", kafka_min_insync_replicas=2)
    await ensure_topics(settings, [TOPIC], [dead_letter_topic("kit.cfg")])
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = [settings.topic_name(TOPIC.name), settings.topic_name("kit.cfg.dlq")]
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        )
    finally:
        await admin.close()
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            configs[resource[3]] = {entry[0]: entry[1] for entry in resource[4]}
    events, dead = configs[names[0]], configs[names[1]]
    assert (events["min.insync.replicas"], dead["min.insync.replicas"]) == ("2", "2")
    assert dead["retention.ms"] == "-1"


async def test_record_once_counts_each_source_event_once(rig: Rig) -> None:
    ledger = rig.mongo.collection("ledger")
    results = [
        await record_once(ledger, "evt-1:points", {"user": "u", "points": 5}) for _ in range(3)
    ]
    results.append(await record_once(ledger, "evt-2:points", {"user": "u", "points": 2}))
    assert results == [True, False, False, True]
    pipeline = [{"$group": {"_id": "$user", "n": {"$sum": "$points"}}}]
    total = [d async for d in await ledger.aggregate(pipeline)]
    assert total == [{"_id": "u", "n": 7}]


async def test_a_hold_released_while_its_partition_moves_does_not_strand_the_aggregate(
    rig: Rig,
) -> None:
    # A re-drives h's hold; its store is slow to delete the hold just when B joins and takes h's
    # partition. B must not keep h held (parking its events for ever) on a hold A deleted.
    broken = True
    applied: list[tuple[str, int]] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        assert isinstance(event, Moved)
        if event.n == 13 and broken:
            raise ValueError("unlucky")
        if event.account == "z":
            await asyncio.sleep(1.5)  # keeps B's first batch busy after it loaded the holds
        applied.append((event.account, event.n))

    await rig.publish(*(moved("h", n) for n in (13, 2)), partition=0)
    runner_a = rig.runner(handle)
    rig.start(runner_a)

    async def held() -> bool:
        return await rig.mongo.collection(PARKED_COLLECTION).count_documents({}) == 1

    await eventually(held, "h held with one parked event")
    b_settings = service_settings_for_test(
        service_name="a-kit",  # sorts first: the assignor gives B partition 0, h's
        kafka_topic_prefix=rig.settings.kafka_topic_prefix,
        mongo_db=rig.settings.mongo_db,
        consumer_hold_check_seconds=0.2,
    )
    runner_b = rig.runner(handle, settings=b_settings)
    h_partition = TopicPartition(rig.topic, 0)

    def b_prepared() -> bool:
        return (
            h_partition in runner_b._owned and runner_b._loaded_generation == runner_b._generation
        )

    release = runner_a.holds.release
    released = asyncio.Event()

    async def slow_release(key: str) -> None:
        await rig.publish(moved("z", 1), partition=0)  # A polls no more: B's first record
        rig.start(runner_b)
        # A slow store: the delete lands after B took the partition over (or after 6 s, if
        # B cannot get it before A has finished).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(6):
                while not b_prepared():
                    await asyncio.sleep(0.02)
        await release(key)
        released.set()

    runner_a.holds.release = slow_release  # type: ignore[method-assign]
    broken = False
    await holds_command(rig, "redrive", "--aggregate", "h", "--group", "kit.ledger")
    await asyncio.wait_for(released.wait(), 40)
    await eventually(lambda: asyncio.sleep(0, b_prepared()), "B owns h's partition")
    await rig.publish(moved("h", 4), partition=0)

    async def flowing() -> bool:
        return ("h", 4) in applied

    await eventually(flowing, f"h's next event applied (applied: {applied})", timeout=20)
    assert [n for account, n in applied if account == "h"] == [13, 2, 4]
    assert ("z", 1) in applied
    assert await rig.mongo.collection(PARKED_COLLECTION).count_documents({}) == 0


async def test_a_redrive_that_fails_again_keeps_the_hold_and_its_parked_events(rig: Rig) -> None:
    applied: list[int] = []

    async def handle(event: Event, envelope: Envelope) -> None:
        assert isinstance(event, Moved)
        if event.n == 13:
            raise ValueError("still unlucky")
        applied.append(event.n)

    await rig.publish(*(moved("h", n) for n in (13, 2)), partition=0)
    rig.start(rig.runner(handle))
    holds = rig.mongo.collection(HOLDS_COLLECTION)

    async def held() -> bool:
        return await rig.mongo.collection(PARKED_COLLECTION).count_documents({}) == 1

    await eventually(held, "h held with one parked event")
    await holds_command(rig, "redrive", "--aggregate", "h")

    async def failed_again() -> bool:
        return await rig.end_offset(rig.dlq) == 2

    await eventually(failed_again, "the re-driven event dead-lettered again")

    async def settled() -> bool:
        hold = await holds.find_one({"aggregate_id": "h"})
        return hold is not None and hold["action"] is None and hold["dlq_sent"]

    await eventually(settled, "the hold back to waiting for the operator")
    assert await rig.mongo.collection(PARKED_COLLECTION).count_documents({}) == 1
    assert applied == []
