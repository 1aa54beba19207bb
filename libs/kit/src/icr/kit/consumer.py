"""Consumer groups that commit only after processing, with budgets, holds and a dead-letter topic.

What one consumer guarantees (see README "Guarantees"):
- a record is committed only after it was applied, parked, skipped as a duplicate or
  dead-lettered; commits go per record batch of at most `COMMIT_EVERY` records and on revocation;
- a revoked partition is not processed any further: the revocation waits for the record in
  flight (bounded by its budget), commits what is done, and the rest of the fetched batch of the
  old assignment is dropped (its new owner starts from the commit);
- each record has a processing budget well inside `max.poll.interval.ms`; when it is spent the
  consumer seeks back to the record and polls, so it stays in its group; attempts are counted
  across polls, so a poison event still reaches the dead-letter topic while an outage of the
  store or broker (TRANSIENT) is waited out for as long as it lasts;
- a dead-lettered event holds its aggregate (see `icr.kit.holds`): later events of it are parked
  until an operator re-drives or skips; a redelivery of the dead event is not dead-lettered again;
- an event of a newer version than this code knows holds its aggregate too (never dropped, never
  dead-lettered) and is re-driven automatically once a consumer that knows the version starts;
- events with `Envelope.sequence` are deduplicated by the aggregate's position (stale ones
  skipped, gaps counted), others by the inbox of event ids;
- with `consumer_concurrency` > 1, a poll's records run at once, one lane per aggregate (its
  records in order, each as above), and the offsets advance over what is done in a row
  (`_process_lanes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
)
from pydantic import ValidationError
from pymongo import IndexModel
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure
from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_never, wait_exponential_jitter

from icr.contracts import Envelope, Event, registry
from icr.contracts.registry import Registry, UnknownEvent
from icr.contracts.topics import Topic
from icr.kit import context, metrics
from icr.kit.context import new_causation, parse_traceparent
from icr.kit.holds import (
    DEAD_LETTERED,
    HOLD_INDEXES,
    HOLDS_COLLECTION,
    PARKED_COLLECTION,
    PARKED_INDEXES,
    UNKNOWN_VERSION,
    Delivery,
    Holds,
    hold_id,
)
from icr.kit.inbox import POSITIONS_COLLECTION, Inbox, Positions
from icr.kit.kafka import build_consumer, decode, header
from icr.kit.logging import log_context
from icr.kit.mongo import Document
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope], Awaitable[None]]

# Failures of the infrastructure rather than of the event: waited out, never dead-lettered.
TRANSIENT = (PyMongoConnectionFailure, KafkaConnectionError, KafkaTimeoutError)

# Records processed before their offsets are committed (also committed at the end of each
# partition's batch, before polling and on revocation). Small, so a crash redoes little.
COMMIT_EVERY = 10

CONSUMER_INDEXES: dict[str, list[IndexModel]] = {
    HOLDS_COLLECTION: HOLD_INDEXES,
    PARKED_COLLECTION: PARKED_INDEXES,
    POSITIONS_COLLECTION: [],
}


@dataclass
class Subscription:
    """Which handler reacts to which event class, for one consumer group."""

    group: str
    handlers: dict[type[Event], Handler] = field(default_factory=dict)

    def on(self, event: type[Event]) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.handlers[event] = fn
            return fn

        return deco

    @property
    def topics(self) -> list[Topic]:
        return sorted({cls.topic for cls in self.handlers}, key=lambda t: t.name)

    @property
    def by_type(self) -> Mapping[str, Handler]:
        return {cls.event_type: fn for cls, fn in self.handlers.items()}


def dead_letter_topic(group: str) -> str:
    return f"{group}.dlq"


class OutOfBudget(Exception):
    """The record's budget is spent: seek back to it and poll again."""


def _delivery(record: ConsumerRecord[bytes, bytes]) -> Delivery:
    return Delivery(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
    )


def _decode_all(
    pending: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
) -> dict[tuple[TopicPartition, int], Envelope]:
    """The poll's envelopes, decoded once, by (partition, offset); undecodable ones left out
    (`process` decodes them again and dead-letters them)."""
    out: dict[tuple[TopicPartition, int], Envelope] = {}
    for tp, records in pending.items():
        for record in records:
            try:
                out[(tp, record.offset)] = decode(record.value)
            except ValidationError:
                continue
    return out


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.runner._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.runner._on_assigned(assigned)


@dataclass
class _Held:
    event_id: str
    reason: str


class ConsumerRunner:
    """Consumes a subscription's topics, processing each partition's records in order.

    An event is handled at most `consumer_max_attempts` times; after that it goes to the
    group's dead-letter topic with the error, its aggregate is held, and the partition moves on.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        subscription: Subscription,
        inbox: Inbox,
        producer: AIOKafkaProducer,
        *,
        events: Registry = registry,
    ) -> None:
        budget_ms = settings.consumer_record_budget_seconds * 1000
        if budget_ms * 2 > settings.consumer_max_poll_interval_ms:
            raise ValueError(
                "consumer_record_budget_seconds must be at most half of "
                f"consumer_max_poll_interval_ms ({budget_ms:.0f} ms vs "
                f"{settings.consumer_max_poll_interval_ms} ms)"
            )
        self.settings = settings
        self.events = events
        self.subscription = subscription
        self.group = settings.topic_name(subscription.group)
        self.inbox = inbox
        db = inbox.collection.database
        self.holds = Holds(db[HOLDS_COLLECTION], db[PARKED_COLLECTION], self.group)
        self.positions = Positions(db[POSITIONS_COLLECTION], self.group)
        self.producer = producer
        self.handlers = subscription.by_type
        self.running = False
        self.budget = settings.consumer_record_budget_seconds
        self.poll_interval = settings.consumer_max_poll_interval_ms / 1000
        self._consumer: AIOKafkaConsumer | None = None
        # Assignment state, changed by the rebalance listener.
        self._owned: set[TopicPartition] = set()
        self._generation = 0
        self._loaded_generation = -1
        # Set when no record nor hold release is in progress (a revocation waits for it).
        self._idle = asyncio.Event()
        self._idle.set()
        self._busy = 0
        self._pending: dict[TopicPartition, int] = {}
        self._commit_lock = asyncio.Lock()
        # Per-assignment caches; the store is the truth. Holds by (topic, aggregate id),
        # positions by stream (see `_stream`).
        self._held: dict[tuple[str, str], _Held] = {}
        self._positions: dict[tuple[str, str], int] = {}
        # The highest number of each stream applied or ignored since the last commit, written in
        # one store call just before the offsets (`_commit`): positions cost no call per event.
        self._unwritten: dict[tuple[str, str], int] = {}
        # Failed attempts per record, kept across polls (a seek back does not reset them).
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._last_error: dict[tuple[str, int, int], str] = {}
        self._since_commit = 0
        self._stopping = False
        self._polled_at = time.monotonic()
        self._holds_checked_at = 0.0
        self._key_fields: dict[str, str] = {}  # aggregate field by event type (`_stream`)

    # The loop.

    async def run(self) -> None:
        topics = [self.settings.topic_name(t.name) for t in self.subscription.topics]
        while not self._stopping:
            consumer = build_consumer(self.settings, self.group, topics, listener=_Listener(self))
            self._consumer = consumer
            try:
                await consumer.start()
                self.running = True
                log.info("consumer started", extra={"group": self.group, "topics": topics})
                while not self._stopping:
                    batches = await consumer.getmany(timeout_ms=500)
                    # The records belong to the assignment of this moment (no await since).
                    generation = self._generation
                    self._polled_at = time.monotonic()
                    if not await self._prepare(generation):
                        continue  # reassigned meanwhile: positions were reset to the commits
                    await self._process_batches(consumer, batches, generation)
                    await self._commit()
                    await self._act_on_holds()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "consumer failed; restarting", extra={"group": self.group}, exc_info=True
                )
                await asyncio.sleep(1)
            finally:
                self.running = False
                try:
                    await asyncio.wait_for(asyncio.shield(self._commit()), 5)
                except Exception:
                    log.warning("final commit failed", extra={"group": self.group})
                await consumer.stop()

    async def _process_batches(
        self,
        consumer: AIOKafkaConsumer,
        batches: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        generation: int,
    ) -> None:
        pending = {tp: list(records) for tp, records in batches.items() if records}
        decoded = _decode_all(pending)
        await self._load_positions(decoded, generation)
        if self.settings.consumer_concurrency > 1:
            await self._process_lanes(consumer, pending, decoded, generation)
            return

        def seek_back() -> None:
            for tp, rest in pending.items():
                if rest and tp in self._owned:
                    consumer.seek(tp, rest[0].offset)

        for tp, records in pending.items():
            while records:
                if self._stopping:
                    return  # the group hands the rest to another member from the commit
                if self._generation != generation or tp not in self._owned:
                    # Revoked meanwhile: the new owner (maybe us again) starts from the commit.
                    return
                if not self._fits():
                    seek_back()
                    return
                record = records[0]
                envelope = decoded.get((tp, record.offset))
                delivery = _delivery(record)
                if not await self._run_one(
                    delivery, deadline=self._deadline(), tp=tp, envelope=envelope
                ):
                    metrics.BUDGET_EXCEEDED.labels(self.group, record.topic).inc()
                    if self._generation == generation:
                        seek_back()
                    return
                records.pop(0)
                self._since_commit += 1
                if self._since_commit >= COMMIT_EVERY:
                    await self._commit()
            await self._commit()

    async def _process_lanes(
        self,
        consumer: AIOKafkaConsumer,
        pending: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        decoded: Mapping[tuple[TopicPartition, int], Envelope],
        generation: int,
    ) -> None:
        """The poll's records at once, one lane per aggregate (`consumer_concurrency` lanes at
        a time): a lane runs its aggregate's records in their order, each as `_run_one` runs it
        alone (its budget, attempts, hold and dead letter), so only records of different
        aggregates overlap, as they do on different members. Their handlers' store calls then
        meet in the stores' coalescers (`icr.kit.coalesce`): one round trip for many records.

        A partition's offset advances over its records done in a row from the first; a lane
        that stops (budget spent, revoked, stopping) leaves its partition to be sought back to
        the first record not done, and the records done after it come again and are skipped
        by position or inbox, as after a crash."""
        lanes: dict[Hashable, list[tuple[TopicPartition, ConsumerRecord[bytes, bytes]]]] = {}
        for tp, records in pending.items():
            for record in records:
                key = self._lane(tp, record, decoded.get((tp, record.offset)))
                lanes.setdefault(key, []).append((tp, record))
        order = {tp: [r.offset for r in records] for tp, records in pending.items()}
        done: dict[TopicPartition, set[int]] = {tp: set() for tp in pending}
        head = dict.fromkeys(pending, 0)  # per partition: index of its first record not done
        concurrency = self.settings.consumer_concurrency
        gate = asyncio.Semaphore(concurrency) if len(lanes) > concurrency else None

        def completed(tp: TopicPartition, offset: int) -> None:
            if self._generation != generation:
                return  # revoked: the new owner starts from the commit
            done[tp].add(offset)
            offsets, n = order[tp], head[tp]
            while n < len(offsets) and offsets[n] in done[tp]:
                n += 1
            if n != head[tp]:
                head[tp] = n
                # Before the record counts as idle, so a revocation waiting for it commits it.
                self._pending[tp] = offsets[n - 1] + 1

        async def lane(items: list[tuple[TopicPartition, ConsumerRecord[bytes, bytes]]]) -> None:
            async with gate or contextlib.nullcontext():
                for tp, record in items:
                    if (
                        self._stopping
                        or self._generation != generation
                        or tp not in self._owned
                        or not self._fits()
                    ):
                        return
                    envelope = decoded.get((tp, record.offset))
                    if not await self._run_one(
                        _delivery(record), deadline=self._deadline(), envelope=envelope
                    ):
                        metrics.BUDGET_EXCEEDED.labels(self.group, record.topic).inc()
                        return
                    completed(tp, record.offset)

        # A lane that fails outside its handler (as `run` would see one record fail) lets the
        # others finish their records before the error restarts the consumer, so no lane is
        # left running on an assignment the restart gives up.
        results = await asyncio.gather(
            *(lane(items) for items in lanes.values()), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        if self._generation != generation:
            return
        for tp, offsets in order.items():
            if head[tp] < len(offsets) and tp in self._owned:
                consumer.seek(tp, offsets[head[tp]])

    def _lane(
        self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes], envelope: Envelope | None
    ) -> Hashable:
        """Records that must run in order share a lane: those of one aggregate, by the stream
        key without the topic (an aggregate's events on two topics, a request's and its
        rating's, keep their order too). An undecodable record is a lane of its own."""
        if envelope is None:
            return ("@", tp.topic, tp.partition, record.offset)
        stream = self._stream(record.topic, envelope.type, envelope.aggregate_id)
        return stream[1] if stream is not None else (record.topic, envelope.aggregate_id)

    async def _load_positions(
        self, decoded: Mapping[tuple[TopicPartition, int], Envelope], generation: int
    ) -> None:
        """Reads the positions of a batch's new streams in one store call, instead of one read
        per event of an aggregate not met before (each submitted request is one). Best effort:
        a failure leaves `process` to read them one by one."""
        wanted: set[tuple[str, str]] = set()
        for (tp, _), envelope in decoded.items():
            if envelope.sequence is None or envelope.type not in self.handlers:
                continue
            stream = self._stream(tp.topic, envelope.type, envelope.aggregate_id)
            if stream is not None and stream not in self._positions:
                wanted.add(stream)
        if not wanted:
            return
        try:
            # A small part of the poll interval: the records' own budgets need the rest.
            async with asyncio.timeout(self.budget / 4):
                found = await self.positions.last_many(sorted(wanted))
        except (TimeoutError, PyMongoError):
            return
        if self._generation == generation:
            for stream, last in found.items():
                self._positions.setdefault(stream, last)

    async def stop(self) -> None:
        """Leaves the group gracefully: the record in flight finishes and is committed.
        (Cancelling `run` instead is a crash: that record is redelivered to the next owner.)"""
        self._stopping = True
        await self._idle.wait()

    def _fits(self) -> bool:
        """Whether a whole record budget still fits before the poll interval runs out."""
        elapsed = time.monotonic() - self._polled_at
        return elapsed + self.budget <= self.poll_interval * 0.9

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.budget

    async def _run_one(
        self,
        delivery: Delivery,
        *,
        deadline: float,
        replay: bool = False,
        tp: TopicPartition | None = None,
        envelope: Envelope | None = None,
    ) -> bool:
        """Processes one record within its budget; False if the budget ran out first.

        Store or broker errors outside the handler (reading the position, parking, sending to the
        dead-letter topic) are retried with backoff until they pass or the budget is spent.
        """
        self._busy += 1
        self._idle.clear()
        try:
            async with asyncio.timeout_at(deadline):
                try:
                    # The usual case first, without building a retry loop per record.
                    await self.process(delivery, replay=replay, envelope=envelope)
                except TRANSIENT:
                    await asyncio.sleep(self.settings.consumer_retry_backoff_seconds)
                    async for attempt in AsyncRetrying(
                        retry=retry_if_exception_type(TRANSIENT),
                        wait=self._wait(),
                        stop=stop_never,
                        reraise=True,
                    ):
                        with attempt:
                            await self.process(delivery, replay=replay, envelope=envelope)
            if tp is not None:
                # Before the record counts as idle, so a revocation waiting for it commits it.
                self._pending[tp] = delivery.offset + 1
            return True
        except TimeoutError:
            log.warning(
                "record budget spent; seeking back to it",
                extra={"topic": delivery.topic, "offset": delivery.offset, "budget": self.budget},
            )
            return False
        finally:
            self._done_busy()

    def _done_busy(self) -> None:
        self._busy -= 1
        if not self._busy:
            self._idle.set()

    def _wait(self) -> Any:
        base = self.settings.consumer_retry_backoff_seconds
        return wait_exponential_jitter(multiplier=base, max=5.0, jitter=base)

    # Rebalances.

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:  # aiokafka calls this before the first join too, with nothing
            metrics.CONSUMER_REBALANCES.labels(self.group, "revoked").inc()
        self._owned = set()
        self._generation += 1
        # The record in flight finishes (its budget bounds the wait) and is committed while this
        # member still owns its partition; nothing of the old assignment runs after this.
        await self._idle.wait()
        await self._commit()
        log.info("partitions revoked", extra={"group": self.group, "partitions": str(revoked)})

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        metrics.CONSUMER_REBALANCES.labels(self.group, "assigned").inc()
        self._owned = set(assigned)
        self._generation += 1
        self._pending = {}
        self._unwritten = {}  # their records come again from the commit
        log.info("partitions assigned", extra={"group": self.group, "partitions": str(assigned)})

    async def _prepare(self, generation: int) -> bool:
        """After an assignment, loads the holds of the owned partitions before any record;
        False if the assignment changed meanwhile."""
        if self._loaded_generation == generation:
            return True
        owned = {(tp.topic, tp.partition) for tp in self._owned}
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT), wait=self._wait(), stop=stop_never
        ):
            with attempt:
                docs = await self.holds.of_partitions(owned)
        if self._generation != generation:
            return False
        self._held = {
            (d["topic"], d["aggregate_id"]): _Held(d["event_id"], d["reason"]) for d in docs
        }
        self._positions = {}
        self._attempts = {k: v for k, v in self._attempts.items() if (k[0], k[1]) in owned}
        self._loaded_generation = generation
        self._holds_checked_at = 0.0
        self._publish_held()
        for d in docs:
            if d["reason"] == UNKNOWN_VERSION and not d.get("action") and self._knows(d):
                # Deployed with the version it waited for: apply it and what was parked.
                log.info("known version now; re-driving hold", extra={"hold": d["_id"]})
                try:
                    await self.holds.mark(d["_id"], action="redrive")
                except TRANSIENT:
                    self._loaded_generation = -1  # try again on the next poll
        return True

    def _knows(self, hold: Document) -> bool:
        try:
            return self.events.latest(hold["event_type"]).event_version >= int(hold["version"])
        except UnknownEvent:
            return False

    def _publish_held(self) -> None:
        for reason in (DEAD_LETTERED, UNKNOWN_VERSION):
            count = sum(1 for h in self._held.values() if h.reason == reason)
            metrics.HELD_AGGREGATES.labels(self.group, reason).set(count)

    async def _commit(self) -> None:
        async with self._commit_lock:
            if self._unwritten:
                # Before the offsets: a crash in between only shows these records again.
                unwritten, self._unwritten = self._unwritten, {}
                try:
                    await self.positions.advance_many(unwritten)
                except PyMongoError as exc:
                    for stream, sequence in unwritten.items():
                        self._unwritten[stream] = max(sequence, self._unwritten.get(stream, 0))
                    log.warning(
                        "positions not written; offsets committed later",
                        extra={"group": self.group, "error": repr(exc)},
                    )
                    return
            offsets, self._pending = self._pending, {}
            self._since_commit = 0
            if not offsets or self._consumer is None:
                return
            try:
                await self._consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # The group moved on without us; the records are redelivered to the new owner,
                # which skips them by position or inbox. Not a reason to restart the consumer.
                log.warning("commit failed", extra={"group": self.group, "error": repr(exc)})
            except KafkaError as exc:
                log.warning("commit failed", extra={"group": self.group, "error": repr(exc)})

    # One record.

    async def process(
        self, delivery: Delivery, *, replay: bool = False, envelope: Envelope | None = None
    ) -> str:
        """Applies, skips, parks, holds or dead-letters one record; returns the outcome.
        `envelope`: the record's value as decoded already (by the poll), else decoded here."""
        topic = delivery.topic
        if envelope is None:
            try:
                envelope = decode(delivery.value)
            except ValidationError as exc:
                reason = f"undecodable envelope: {exc}"
                outcome = await self._dead_letter_undecodable(delivery, reason)
                return self._count_outcome(topic, outcome)
        agg = (topic, envelope.aggregate_id)
        held = self._held.get(agg)
        if held is not None and not replay:
            key = hold_id(self.group, topic, envelope.aggregate_id)
            if held.event_id == envelope.event_id:
                # A redelivery of the held event: it was dead-lettered (or waits) already.
                doc = await self.holds.get(key)
                if doc is not None and held.reason == DEAD_LETTERED and not doc.get("dlq_sent"):
                    await self._send_dead_letter(delivery, doc.get("error", ""))
                    await self.holds.mark(key, dlq_sent=True)
                return self._count_outcome(topic, "duplicate")
            await self.holds.park(key, delivery)
            return self._count_outcome(topic, "parked")
        handler = self.handlers.get(envelope.type)
        stream = self._stream(topic, envelope.type, envelope.aggregate_id)
        # A type this code does not know has no stream: it is deduplicated by the inbox.
        sequence = envelope.sequence if stream is not None else None
        if handler is None:
            if stream is not None and sequence is not None:
                # All of an aggregate's events share one topic, so ignored ones still count
                # towards the gap check: remembered here, written once per commit (`_commit`),
                # so an event this group does not handle costs no store call of its own.
                self._unwritten[stream] = max(sequence, self._unwritten.get(stream, 0))
                if stream in self._positions:
                    self._positions[stream] = max(sequence, self._positions[stream])
            return self._count_outcome(topic, "ignored")
        if stream is not None and sequence is not None:
            last = self._positions.get(stream)
            if last is None:
                last = await self.positions.last(*stream)
                self._positions[stream] = last
            if sequence <= last:
                return self._count_outcome(topic, "stale")
            if sequence > max(last, self._unwritten.get(stream, 0)) + 1:
                metrics.SEQUENCE_GAPS.labels(self.group, topic).inc()
                log.warning(
                    "sequence gap: events of this aggregate are missing",
                    extra={"aggregate_id": envelope.aggregate_id, "last": last, "got": sequence},
                )
        cause = parse_traceparent(header(list(delivery.headers), "traceparent"))
        cause = replace(  # keeps the producer's span as this one's parent
            cause or new_causation(),
            correlation_id=envelope.correlation_id or envelope.event_id,
            causation_id=envelope.event_id,
        )
        with (
            context.causation(cause),
            log_context(event_id=envelope.event_id, event_type=envelope.type),
        ):
            if sequence is None and await self.inbox.seen(envelope.event_id):
                return self._count_outcome(topic, "duplicate")
            if self._is_future(envelope):
                await self._hold(delivery, envelope, UNKNOWN_VERSION, "unknown version")
                log.error(
                    "event of a newer version than this consumer knows; aggregate held until a "
                    "consumer that knows it starts",
                    extra={"version": envelope.version, "aggregate_id": envelope.aggregate_id},
                )
                return self._count_outcome(topic, "held")
            try:
                event = self.events.parse(envelope)
            except (UnknownEvent, ValidationError) as exc:
                await self._dead_letter(delivery, envelope, f"invalid event: {exc}")
                return self._count_outcome(topic, "dead_lettered")
            error = await self._attempt(handler, event, envelope, delivery, replay=replay)
            if error is not None:
                await self._dead_letter(delivery, envelope, error)
                return self._count_outcome(topic, "dead_lettered")
            if stream is not None and sequence is not None:
                # Written with the next commit, before the offsets. A crash in between shows the
                # records since the last commit again, and their handlers run again: the
                # at-least-once case every handler is built for (apply_once, record_once).
                self._unwritten[stream] = max(sequence, self._unwritten.get(stream, 0))
                self._positions[stream] = max(sequence, self._positions.get(stream, 0))
            else:
                await self.inbox.record(envelope.event_id)
            return self._count_outcome(topic, "applied")

    def _count_outcome(self, topic: str, outcome: str) -> str:
        metrics.EVENTS_CONSUMED.labels(self.group, topic, outcome).inc()
        return outcome

    def _is_future(self, envelope: Envelope) -> bool:
        try:
            return envelope.version > self.events.latest(envelope.type).event_version
        except UnknownEvent:
            return False

    def _stream(self, topic: str, event_type: str, aggregate_id: str) -> tuple[str, str] | None:
        """What one run of sequence numbers counts: (topic, key field and aggregate id).

        The relay numbers each document's events from 1, and one topic may carry two kinds of
        aggregate whose ids can coincide (a department and a person "x" on the directory topic):
        keyed by the id alone, one would make the other's events look stale. None for a type
        this code does not know.
        """
        key_field = self._key_fields.get(event_type)
        if key_field is None:
            try:
                key_field = self.events.latest(event_type).aggregate_field
            except UnknownEvent:
                return None
            self._key_fields[event_type] = key_field
        return topic, f"{key_field}:{aggregate_id}"

    async def _advance(self, stream: tuple[str, str], sequence: int) -> None:
        await self.positions.advance(*stream, sequence)
        self._positions[stream] = max(sequence, self._positions.get(stream, 0))

    async def _attempt(
        self,
        handler: Handler,
        event: Event,
        envelope: Envelope,
        delivery: Delivery,
        *,
        replay: bool,
    ) -> str | None:
        """None once the handler succeeded, else the last error after the allowed attempts.

        An outage of the store or the broker is not the event's fault: it is retried for as long
        as it lasts (across polls, see `_run_one`) and never sends a good event to the DLQ. An
        attempt cut short by the record's budget counts as a failed attempt.
        """
        origin = f"replay:{delivery.topic}" if replay else delivery.topic
        key = (origin, delivery.partition, delivery.offset)
        limit = self.settings.consumer_max_attempts
        if self._attempts.get(key, 0) < limit:
            # The usual case first, without building a retry loop per record; a failure goes on
            # in the loop below after the first backoff, as the loop alone would have.
            try:
                await self._call(handler, event, envelope, key)
            except (_FailedAttempt, *TRANSIENT):
                await asyncio.sleep(self.settings.consumer_retry_backoff_seconds)
            else:
                self._attempts.pop(key, None)
                self._last_error.pop(key, None)
                return None
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type((_FailedAttempt, *TRANSIENT)),
                wait=self._wait(),
                stop=lambda _: self._attempts.get(key, 0) >= limit,
                reraise=True,
            ):
                with attempt:
                    if self._attempts.get(key, 0) >= limit:
                        raise _GiveUp  # the attempts of earlier polls used it up
                    await self._call(handler, event, envelope, key)
        except (_FailedAttempt, _GiveUp):
            self._attempts.pop(key, None)
            return self._last_error.pop(key, "failed")
        self._attempts.pop(key, None)
        self._last_error.pop(key, None)
        return None

    async def _call(
        self, handler: Handler, event: Event, envelope: Envelope, key: tuple[str, int, int]
    ) -> None:
        try:
            await handler(event, envelope)
        except asyncio.CancelledError:
            # The record's budget ran out inside the handler (or the service stops): a slow
            # handler is the event's problem until proven otherwise.
            self._fail(key, envelope, f"handler exceeded the budget of {self.budget}s", False)
            raise
        except TRANSIENT as exc:
            self._fail(key, envelope, f"{type(exc).__name__}: {exc}", True)
            raise
        except Exception as exc:
            self._fail(key, envelope, f"{type(exc).__name__}: {exc}", False)
            raise _FailedAttempt from exc

    def _fail(
        self, key: tuple[str, int, int], envelope: Envelope, error: str, transient: bool
    ) -> None:
        metrics.HANDLER_FAILURES.labels(self.group, envelope.type).inc()
        if not transient:
            self._attempts[key] = self._attempts.get(key, 0) + 1
            self._last_error[key] = error
        log.warning(
            "handler failed",
            extra={
                "attempt": self._attempts.get(key, 0),
                "transient": transient,
                "error": error[:500],
            },
        )

    # Holds and the dead-letter topic.

    async def _hold(self, delivery: Delivery, envelope: Envelope, reason: str, error: str) -> str:
        key = await self.holds.hold(
            delivery,
            aggregate_id=envelope.aggregate_id,
            event_id=envelope.event_id,
            event_type=envelope.type,
            version=envelope.version,
            sequence=envelope.sequence,
            reason=reason,
            error=error,
        )
        self._held[(delivery.topic, envelope.aggregate_id)] = _Held(envelope.event_id, reason)
        self._publish_held()
        return key

    async def _dead_letter(self, delivery: Delivery, envelope: Envelope, error: str) -> None:
        """Holds the aggregate, then parks the record on the dead-letter topic.

        The hold is written first: it records the event id, so a redelivery neither applies the
        aggregate's later events nor dead-letters this one again (a crash between the two writes
        sends it on the redelivery, as `dlq_sent` is still false).
        """
        key = await self._hold(delivery, envelope, DEAD_LETTERED, error)
        await self._send_dead_letter(delivery, error)
        await self.holds.mark(key, dlq_sent=True)

    async def _dead_letter_undecodable(self, delivery: Delivery, error: str) -> str:
        # No event id nor aggregate to hold: the record's position identifies it.
        position = f"@{delivery.topic}/{delivery.partition}/{delivery.offset}"
        if await self.inbox.seen(position):
            return "duplicate"
        await self._send_dead_letter(delivery, error)
        await self.inbox.record(position, status="dead_lettered")
        return "dead_lettered"

    async def _send_dead_letter(self, delivery: Delivery, error: str) -> None:
        """A failure to send stops the partition (retried within the budget), never drops."""
        headers = [
            *delivery.headers,
            ("dlq_error", error[:2000].encode()),
            ("dlq_group", self.group.encode()),
            ("dlq_topic", delivery.topic.encode()),
            ("dlq_partition", str(delivery.partition).encode()),
            ("dlq_offset", str(delivery.offset).encode()),
            ("dlq_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self.producer.send_and_wait(
            dead_letter_topic(self.group), value=delivery.value, key=delivery.key, headers=headers
        )
        log.error(
            "event dead-lettered",
            extra={"topic": delivery.topic, "offset": delivery.offset, "error": error},
        )

    async def _act_on_holds(self) -> None:
        """Performs the operator's re-drive or skip of holds on partitions this member owns."""
        now = time.monotonic()
        if now - self._holds_checked_at < self.settings.consumer_hold_check_seconds:
            return
        self._holds_checked_at = now
        generation = self._generation
        try:
            requested = await self.holds.requested()
        except TRANSIENT:
            log.warning("cannot read holds; trying later", extra={"group": self.group})
            return
        try:
            for ref in requested:
                doc = await self.holds.get(ref["_id"])
                owner = TopicPartition(doc["topic"], doc["partition"]) if doc else None
                if doc is None or owner not in self._owned:
                    continue
                if self._generation != generation:
                    return
                # One busy step: a revocation waits for it, so the hold is never deleted (or
                # marked) after its partition's new owner loaded it.
                self._busy += 1
                self._idle.clear()
                try:
                    if not await self._release(doc, generation):
                        return
                finally:
                    self._done_busy()
        except TRANSIENT:
            # Progress is stored; the next check resumes. Not a reason to leave the group.
            log.warning("hold action interrupted; retrying later", extra={"group": self.group})

    async def _release(self, hold: Document, generation: int) -> bool:
        """Applies (re-drive) or drops (skip) the held event, then the parked ones in order.

        Progress is stored as it goes (head_done, parked events removed once processed), so a
        budget running out or a crash resumes where it stopped; per-event dedupe covers the rest.
        False if it stopped early.
        """
        key, action = hold["_id"], hold["action"]
        agg = (hold["topic"], hold["aggregate_id"])
        log.info("releasing hold", extra={"hold": key, "action": action})
        if not hold.get("head_done"):
            if not self._fits():
                return False
            head = Delivery.from_doc(hold["event"])
            if action == "redrive":
                if not await self._run_one(head, deadline=self._deadline(), replay=True):
                    return False
                current = await self.holds.get(key)
                if current is None or not current.get("action"):
                    return True  # failed again: the hold now waits on its new error
            elif hold.get("sequence") is not None and (
                stream := self._stream(hold["topic"], hold["event_type"], hold["aggregate_id"])
            ):
                await self._advance(stream, int(hold["sequence"]))
            else:
                await self.inbox.record(hold["event_id"], status="skipped")
            await self.holds.mark(key, head_done=True)
        while (parked := await self.holds.next_parked(key)) is not None:
            if self._generation != generation or not self._fits():
                return False
            if not await self._run_one(
                Delivery.from_doc(parked), deadline=self._deadline(), replay=True
            ):
                return False
            current = await self.holds.get(key)
            if current is not None and not current.get("action"):
                # This parked event failed and now heads the hold; it is not parked any more.
                await self.holds.unpark(parked["_id"])
                return True
            await self.holds.unpark(parked["_id"])
        await self.holds.release(key)
        self._held.pop(agg, None)
        self._publish_held()
        log.info("hold released", extra={"hold": key, "action": action})
        return True


class _FailedAttempt(Exception):
    """A handler attempt failed for a reason of the event's (counts towards the DLQ)."""


class _GiveUp(Exception):
    """No attempts left."""


__all__ = [
    "CONSUMER_INDEXES",
    "ConsumerRunner",
    "Subscription",
    "TopicPartition",
    "dead_letter_topic",
]
