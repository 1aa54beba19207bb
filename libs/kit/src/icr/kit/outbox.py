"""The transactional outbox: events are saved inside the aggregate's own document.

A state change and the events it records are one atomic update of one document (MongoDB
guarantees that without transactions). The `Relay` publishes pending events to Kafka in order,
numbers them per aggregate (`Envelope.sequence`), then removes them. A crash after publishing and
before removal publishes them again with the same event ids and the same numbers, which
consumers drop (see `icr.kit.inbox`); nothing is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from icr.contracts import Envelope, Event
from icr.kit import context, metrics
from icr.kit.kafka import encode, headers_for
from icr.kit.lease import CLOCK_COLLECTION, Lease, LeaseLost, ServerClock, forever, new_token
from icr.kit.lease import retrying as retrying_for
from icr.kit.mongo import Document, refused_as_duplicates
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

PENDING = "outbox_pending"
OUTBOX = "outbox"
LEASE_OWNER = "outbox_lease_owner"
"""The token of the claim that holds the lease (`<relay owner>:<random>`), or None."""
LEASE_UNTIL = "outbox_lease_until"
SINCE = "outbox_since"
"""When the oldest pending event was written (None once nothing is pending)."""
SEQ = "outbox_seq"
"""How many of the document's events were published and settled: the last sequence number."""

# The relay's scan: pending documents, oldest first, whose lease is over (Equality, Sort, Range).
OUTBOX_INDEXES = [
    IndexModel([(PENDING, ASCENDING), (SINCE, ASCENDING), (LEASE_UNTIL, ASCENDING)], name="outbox")
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ConcurrentUpdate(Exception):
    """The document changed since it was read; the caller reloads and decides again."""


class UnregisteredOutbox(RuntimeError):
    """Events written to a collection no relay publishes would never leave it."""


class Outbox:
    """Turns events into outbox entries and writes them with the state they belong to.

    With `collections`, the outbox refuses (before writing anything) events for any other
    collection: the runtime relays exactly the service's `outbox_collections`.
    """

    def __init__(self, settings: ServiceSettings, collections: Iterable[str] | None = None) -> None:
        self.settings = settings
        self.collections = None if collections is None else frozenset(collections)
        self.wake = asyncio.Event()
        # Documents this process just gave events, by collection: the relay claims them by _id
        # at once instead of searching, which keeps publishing fast on a server without
        # secondary indexes (the local stand-in) and cheap on any server.
        self.hints: dict[str, set[Any]] = {}

    def take_hints(self) -> dict[str, set[Any]]:
        hints, self.hints = self.hints, {}
        return hints

    def _check(self, collection: AsyncCollection[Document]) -> None:
        if self.collections is not None and collection.name not in self.collections:
            raise UnregisteredOutbox(
                f"events for {collection.name!r}, which is not in the service's "
                f"outbox_collections {sorted(self.collections)}: no relay would publish them"
            )

    def entries(self, events: Sequence[Event]) -> list[Document]:
        cause = context.current()
        out = []
        for event in events:
            span = cause.child()  # each event is a span whose parent is the work that wrote it
            envelope = Envelope.wrap(
                event,
                source=self.settings.service_name,
                correlation_id=cause.correlation_id,
                causation_id=cause.causation_id,
            )
            out.append(
                {
                    "event_id": envelope.event_id,
                    "topic": self.settings.topic_name(event.topic.name),
                    "key": envelope.aggregate_id,
                    "traceparent": span.traceparent,
                    "parent_span_id": span.parent_span_id,
                    "envelope": envelope.model_dump(mode="json"),
                }
            )
        return out

    async def insert(
        self, collection: AsyncCollection[Document], doc: Document, events: Sequence[Event]
    ) -> None:
        """Insert a new aggregate document with its first events (version 1)."""
        self._check(collection)
        entries = self.entries(events)
        await collection.insert_one(
            {
                **doc,
                "version": 1,
                OUTBOX: entries,
                PENDING: bool(entries),
                # Absent, never None, while nothing is pending: `$min` keeps a None (BSON null
                # sorts before every date), so a later write would leave it unset while pending.
                **({SINCE: datetime.now(UTC)} if entries else {}),
                SEQ: 0,
            }
        )
        self._woken(collection, doc["_id"], entries)

    async def insert_many(
        self,
        collection: AsyncCollection[Document],
        docs: Sequence[tuple[Document, Sequence[Event]]],
    ) -> set[Any]:
        """Insert new aggregate documents, each with its first events, in one round trip; each
        is one atomic document write as with `insert`. Returns the `_id`s inserted: a document
        whose `_id` (or another unique key) exists is refused alone, the others still go in."""
        self._check(collection)
        return await self.insert_built(collection, [(doc, self.entries(e)) for doc, e in docs])

    async def insert_built(
        self,
        collection: AsyncCollection[Document],
        docs: Sequence[tuple[Document, list[Document]]],
    ) -> set[Any]:
        """`insert_many` of documents whose outbox entries were built already (`entries`): a
        caller that writes other callers' documents (a coalesced write) has each built in its
        own caller's context, so each event keeps the trace and causation of the work that
        wrote it."""
        self._check(collection)
        rows = []
        for doc, entries in docs:
            rows.append(
                {
                    **doc,
                    "version": 1,
                    OUTBOX: entries,
                    PENDING: bool(entries),
                    **({SINCE: datetime.now(UTC)} if entries else {}),
                    SEQ: 0,
                }
            )
        if not rows:
            return set()
        refused: set[int] = set()
        try:
            await collection.insert_many(rows, ordered=False)
        except BulkWriteError as exc:
            refused = refused_as_duplicates(exc)
        inserted = {row["_id"] for n, row in enumerate(rows) if n not in refused}
        for row in rows:
            if row["_id"] in inserted:
                self._woken(collection, row["_id"], row[OUTBOX])
        return inserted

    async def update(
        self,
        collection: AsyncCollection[Document],
        key: Any,
        expected_version: int,
        fields: Document,
        events: Sequence[Event],
        *,
        extra: Document | None = None,
    ) -> None:
        """Replace `fields` and append `events` if the document is still at `expected_version`."""
        self._check(collection)
        entries = self.entries(events)
        update: Document = {
            "$set": {**fields, "version": expected_version + 1},
            **(extra or {}),
        }
        if entries:
            update["$set"][PENDING] = True
            update.setdefault("$push", {})[OUTBOX] = {"$each": entries}
            update.setdefault("$min", {})[SINCE] = datetime.now(UTC)
        result = await collection.update_one({"_id": key, "version": expected_version}, update)
        if result.matched_count == 0:
            raise ConcurrentUpdate(f"{collection.name}/{key} is no longer at v{expected_version}")
        self._woken(collection, key, entries)

    def _woken(
        self, collection: AsyncCollection[Document], key: Any, entries: list[Document]
    ) -> None:
        if entries:
            self.hints.setdefault(collection.name, set()).add(key)
            self.wake.set()


class Relay:
    """Publishes pending outbox entries of the given collections to Kafka.

    Replicas share the work through a lease per document (`icr.kit.lease`): a replica claims a
    document's pending events for `outbox_lease_seconds` on the store's clock and renews the lease
    while it sends them, so a live sender keeps its documents however long Kafka takes, and a dead
    one's documents are taken over once its lease runs out (seconds). A sender that cannot renew
    stops before its lease ends; its settle names its claim's token, so it never undoes the work
    of the replica that took over.

    A pass (the hinted documents, then a scan) publishes its documents concurrently inside one
    `TaskGroup`: the pass ends only when every send of it has ended, so the next pass never finds
    a document this process is still sending.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        collections: Sequence[AsyncCollection[Document]],
        producer: AIOKafkaProducer,
        outbox: Outbox,
        *,
        batch: int = 100,
        clock: ServerClock | None = None,
    ) -> None:
        self.settings = settings
        self.collections = {c.name: c for c in collections}
        self.producer = producer
        self.outbox = outbox
        self.batch = batch
        self.owner = new_token(settings.service_name)
        if clock is None:
            if not collections:
                raise ValueError("a relay needs a collection, or a clock")
            clock = ServerClock(collections[0].database[CLOCK_COLLECTION])
        self.clock = clock
        self.lease_seconds = settings.outbox_lease_seconds
        self._next_metrics = 0.0

    async def run(self) -> None:
        """Runs until cancelled; Kafka or MongoDB outages only delay publishing.

        Hinted documents (written by this process) go out as soon as they are written; a scan
        every `outbox_poll_seconds` finds the rest: other replicas' leftovers, events written
        before a crash, documents whose lease ran out, and anything a failed pass left behind.
        """
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        while True:
            scan = loop.time() >= next_scan

            async def one_pass(scan: bool = scan) -> int:
                self.outbox.wake.clear()
                published = await self.publish_hinted(self.outbox.take_hints())
                if scan:
                    published += await self.publish_pending()
                return published

            published = await forever(
                "outbox relay pass", one_pass, base=self.settings.outbox_poll_seconds
            )
            if scan:
                next_scan = loop.time() + self.settings.outbox_poll_seconds
            if published and scan:
                next_scan = loop.time()  # the scan hit documents: more may be waiting
                continue
            timeout = max(0.0, next_scan - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.wake.wait(), timeout)

    async def publish_hinted(self, hints: dict[str, set[Any]]) -> int:
        total = 0
        for name, keys in hints.items():
            collection = self.collections.get(name)
            if collection is not None:
                total += await self._publish(collection, list(keys))
        return total

    async def publish_pending(self) -> int:
        """One scan: pending documents no live lease holds, oldest first, `batch` per collection."""
        total = 0
        for collection in self.collections.values():
            now = await self.clock.now()
            candidates = await collection.find(
                {PENDING: True, **_lease_over(now)},
                projection={"_id": 1},
                sort=[(PENDING, ASCENDING), (SINCE, ASCENDING)],
                limit=self.batch,
            ).to_list()
            total += await self._publish(collection, [c["_id"] for c in candidates])
        await self.update_metrics()
        return total

    async def update_metrics(self, *, force: bool = False) -> None:
        """Backlog and oldest pending age per collection, at most every few seconds."""
        loop = asyncio.get_running_loop()
        if not force and loop.time() < self._next_metrics:
            return
        self._next_metrics = loop.time() + self.settings.outbox_metrics_seconds
        database = self.settings.database
        for name, collection in self.collections.items():
            backlog, age = await backlog_of(collection, await self.clock.now())
            metrics.OUTBOX_BACKLOG.labels(database=database, collection=name).set(backlog)
            metrics.OUTBOX_OLDEST_AGE.labels(database=database, collection=name).set(age)

    async def _publish(self, collection: AsyncCollection[Document], keys: list[Any]) -> int:
        if not keys:
            return 0
        claims = await self._claim(collection, keys)
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._publish_claimed(lease, doc, at))
                for lease, doc, at in claims
            ]
        sent = [outcome for task in tasks if (outcome := task.result()) is not None]
        return await self._settle(collection, sent) if sent else 0

    async def _publish_claimed(self, lease: Lease, doc: Document, at: datetime) -> _Sent | None:
        """Publishes one claimed document's events; a failure stays with this document
        (logged; its lease runs out and the events go out again, same ids and numbers)."""
        try:
            return await lease.hold(lambda: self._publish_document(lease, doc, at))
        except LeaseLost as lost:
            log.warning("outbox lease lost; stopped sending", extra={"reason": str(lost)})
        except Exception:
            log.warning(
                "outbox publish failed; retried once the lease runs out",
                extra={"collection": lease.collection.name, "doc_id": str(lease.key)},
                exc_info=True,
            )
        return None

    async def _claim(
        self, collection: AsyncCollection[Document], keys: list[Any]
    ) -> list[tuple[Lease, Document, datetime]]:
        """Claims the documents among `keys` that have pending events and no live lease: two
        round trips for the whole batch (mark them with this claim's token, read them back),
        not one per document. Each claimed document gets a lease of its own under that token,
        so one lost lease stops only its own document. Returned with the claim's store time."""
        token = new_token(self.owner)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        now = await self.clock.now()
        # Never our own live lease either: this process works on a document once at a time.
        await collection.update_many(
            {"_id": {"$in": keys}, PENDING: True, **_lease_over(now)},
            {
                "$set": {
                    LEASE_OWNER: token,
                    LEASE_UNTIL: now + timedelta(seconds=self.lease_seconds),
                }
            },
        )
        docs = await collection.find(
            {"_id": {"$in": keys}, LEASE_OWNER: token}, projection={OUTBOX: 1, SEQ: 1}
        ).to_list()
        return [
            (
                Lease(
                    collection=collection,
                    key=doc["_id"],
                    token_field=LEASE_OWNER,
                    until_field=LEASE_UNTIL,
                    token=token,
                    seconds=self.lease_seconds,
                    clock=self.clock,
                    sure_until=0.0,
                ).started(sent),
                doc,
                now,
            )
            for doc in docs
        ]

    async def _publish_document(self, lease: Lease, doc: Document, claimed_at: datetime) -> _Sent:
        # A document's events one after another: an event is sent only once the one before it
        # is acknowledged, so a failed send can never be overtaken by its successor.
        sent: list[str] = []
        first = int(doc.get(SEQ) or 0) + 1
        entries = doc.get(OUTBOX) or []
        for number, entry in enumerate(entries, start=first):
            lease.check()
            try:
                await (await self._send(entry, number))
            except Exception as exc:
                log.warning(
                    "publish failed", extra={"event_id": entry["event_id"], "error": repr(exc)}
                )
                break
            sent.append(entry["event_id"])
            metrics.EVENTS_PUBLISHED.labels(topic=entry["topic"]).inc()
        if len(sent) < len(entries):
            oldest_left = datetime.fromisoformat(entries[len(sent)]["envelope"]["time"])
        else:
            # Anything pending at settle time was pushed after the claim.
            oldest_left = claimed_at
        return _Sent(lease, sent, len(entries), oldest_left)

    async def _send(self, entry: Document, sequence: int) -> asyncio.Future[Any]:
        envelope = Envelope.model_validate({**entry["envelope"], "sequence": sequence})
        future: asyncio.Future[Any] = await self.producer.send(
            entry["topic"],
            value=encode(envelope),
            key=entry["key"].encode(),
            headers=headers_for(envelope, entry.get("traceparent")),
        )
        return future

    async def _settle(self, collection: AsyncCollection[Document], done: list[_Sent]) -> int:
        """Settles a pass's documents, most in one write of the store: for each, removes the
        sent prefix and counts it into the sequence, under its lease; returns how many events
        that settled.

        When everything claimed went out and no writer pushed events meanwhile (the array still
        holds exactly the `claimed` entries), one statement empties the outbox and clears the
        pending flag. Documents it did not match (a writer pushed events after the claim, or a
        statement failed) still carry the claim's token: one read finds them, and each gets the
        partial settle (pull the sent prefix, stay pending for the next pass) on its own.

        Writes are retried briefly (a blip of the store should not make a whole pass go out
        twice; a statement that applied cleared its token, so a retry cannot apply it twice).
        Where a settle does not happen, the lease runs out and whoever takes over publishes
        those events again with the same ids and the same numbers: neither the array nor the
        counter moved.
        """
        live = []
        for outcome in done:
            try:
                outcome.lease.check()
                live.append(outcome)
            except LeaseLost as lost:
                log.warning("outbox lease lost before settling", extra={"reason": str(lost)})
        if not live:
            return 0
        keys = [o.lease.key for o in live]
        unsettled = set(keys)
        drained = [o for o in live if len(o.sent) == o.claimed]
        if drained:
            statements = [
                UpdateOne({**o.lease.guard, OUTBOX: {"$size": o.claimed}}, _done(o.claimed))
                for o in drained
            ]
            try:
                # Each statement is fenced by its document's token: no lease check needed here.
                with contextlib.suppress(BulkWriteError):  # the read below finds what failed
                    await self._retried(lambda: collection.bulk_write(statements, ordered=False))
                unsettled = {
                    doc["_id"]
                    async for doc in collection.find(
                        {"_id": {"$in": keys}, LEASE_OWNER: live[0].lease.token},
                        projection={"_id": 1},
                    )
                }
            except Exception:
                log.warning(
                    "outbox settle failed; sent again once the leases run out",
                    extra={"collection": collection.name, "documents": len(live)},
                    exc_info=True,
                )
                return 0
        settled = sum(len(o.sent) for o in live if o.lease.key not in unsettled)
        for outcome in live:
            if outcome.lease.key in unsettled and await self._settle_partly(outcome):
                settled += len(outcome.sent)
        return settled

    async def _settle_partly(self, outcome: _Sent) -> bool:
        """Pulls the sent prefix and counts it; the document stays pending. True if it applied."""
        lease = outcome.lease
        update: Document = {
            "$set": {LEASE_OWNER: None, LEASE_UNTIL: None, SINCE: outcome.oldest_left}
        }
        if outcome.sent:
            update["$pull"] = {OUTBOX: {"event_id": {"$in": outcome.sent}}}
            update["$inc"] = {SEQ: len(outcome.sent)}

        async def write() -> Any:
            lease.check()
            return await lease.collection.update_one(lease.guard, update)

        try:
            result = await self._retried(write)
        except Exception:
            log.warning(
                "outbox settle failed; sent again once the lease runs out",
                extra={"collection": lease.collection.name, "doc_id": str(lease.key)},
                exc_info=True,
            )
            return False
        return bool(result.matched_count)

    async def _retried(self, write: Callable[[], Awaitable[T]]) -> T:
        """A settle write, retried with backoff within a third of a lease."""
        async for attempt in retrying_for("outbox settle", within=self.lease_seconds / 3):
            with attempt:
                result = await write()
        return result

    async def pending_count(self) -> int:
        return sum([await c.count_documents({PENDING: True}) for c in self.collections.values()])


@dataclass
class _Sent:
    """What a pass sent of one claimed document, to settle with the pass."""

    lease: Lease
    sent: list[str]
    claimed: int
    oldest_left: datetime


def _done(claimed: int) -> Document:
    """The settle of a document whose claimed events all went out: nothing is pending."""
    update: Document = {
        "$set": {LEASE_OWNER: None, LEASE_UNTIL: None, OUTBOX: [], PENDING: False},
        "$unset": {SINCE: ""},
    }
    if claimed:
        update["$inc"] = {SEQ: claimed}
    return update


def _lease_over(now: datetime) -> Document:
    return {"$or": [{LEASE_UNTIL: None}, {LEASE_UNTIL: {"$lt": now}}]}


async def backlog_of(collection: AsyncCollection[Document], now: datetime) -> tuple[int, float]:
    """Pending documents of one outbox collection and the age in seconds of the oldest (0 when
    none): the relay's metrics and `icr status` read it the same way, on the outbox index."""
    backlog = await collection.count_documents({PENDING: True})
    oldest = await collection.find_one(
        {PENDING: True, SINCE: {"$gte": _EPOCH}},
        projection={SINCE: 1},
        sort=[(PENDING, ASCENDING), (SINCE, ASCENDING)],
    )
    if oldest is None:
        return backlog, 0.0
    since: datetime = oldest[SINCE]
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return backlog, max(0.0, (now - since).total_seconds())


async def outbox_collections(collections: dict[str, AsyncCollection[Document]]) -> list[str]:
    """The collections that carry the outbox index: those whose documents may hold events."""
    found = []
    for name, collection in collections.items():
        indexes = await collection.index_information()
        if any(PENDING in dict(info.get("key", [])) for info in indexes.values()):
            found.append(name)
    return found


async def unrelayed_pending(
    collections: dict[str, AsyncCollection[Document]], relayed: Iterable[str]
) -> list[str]:
    """Collections outside `relayed` that carry an outbox index and hold pending events: their
    events would never be published (the service's spec lost a collection it once relayed)."""
    relayed = set(relayed)
    stray = []
    for name, collection in collections.items():
        if name in relayed:
            continue
        indexes = await collection.index_information()
        if not any(PENDING in dict(info.get("key", [])) for info in indexes.values()):
            continue
        if await collection.find_one({PENDING: True}, projection={"_id": 1}) is not None:
            stray.append(name)
    return stray
