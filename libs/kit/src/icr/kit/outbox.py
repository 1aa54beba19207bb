"""The transactional outbox: events are saved inside the aggregate's own document.

A state change and the events it records are one atomic update of one document (MongoDB
guarantees that without transactions). The `Relay` publishes pending events to Kafka in order,
then removes them. A crash after publishing and before removal publishes them again with the
same event ids, which consumers drop (see `icr.kit.inbox`); nothing is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from icr.contracts import Envelope, Event
from icr.kit import context, metrics
from icr.kit.kafka import encode, headers_for
from icr.kit.mongo import Document
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

PENDING = "outbox_pending"
OUTBOX = "outbox"
LEASE_OWNER = "outbox_lease_owner"
LEASE_UNTIL = "outbox_lease_until"

OUTBOX_INDEXES = [IndexModel([(PENDING, ASCENDING)], name="outbox_pending")]


class ConcurrentUpdate(Exception):
    """The document changed since it was read; the caller reloads and decides again."""


class Outbox:
    """Turns events into outbox entries and writes them with the state they belong to."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.wake = asyncio.Event()
        # Documents this process just gave events, by collection: the relay claims them by _id
        # at once instead of searching, which keeps publishing fast on a server without
        # secondary indexes (the local stand-in) and cheap on any server.
        self.hints: dict[str, set[Any]] = {}

    def take_hints(self) -> dict[str, set[Any]]:
        hints, self.hints = self.hints, {}
        return hints

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
        entries = self.entries(events)
        await collection.insert_one({**doc, "version": 1, OUTBOX: entries, PENDING: bool(entries)})
        self._woken(collection, doc["_id"], entries)

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
        entries = self.entries(events)
        update: Document = {
            "$set": {**fields, "version": expected_version + 1},
            **(extra or {}),
        }
        if entries:
            update["$set"][PENDING] = True
            update.setdefault("$push", {})[OUTBOX] = {"$each": entries}
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

    Replicas share the work through a lease per document: a replica claims a document's pending
    events for `outbox_lease_seconds`, so two replicas do not publish the same events at the same
    time. If a lease runs out mid-publish the events may go out twice, with the same ids.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        collections: Sequence[AsyncCollection[Document]],
        producer: AIOKafkaProducer,
        outbox: Outbox,
        *,
        batch: int = 100,
    ) -> None:
        self.settings = settings
        self.collections = {c.name: c for c in collections}
        self.producer = producer
        self.outbox = outbox
        self.batch = batch
        self.owner = f"{settings.service_name}-{secrets.token_hex(4)}"

    async def run(self) -> None:
        """Runs until cancelled; Kafka or MongoDB outages only delay publishing.

        Hinted documents (written by this process) go out as soon as they are written; a scan
        every `outbox_poll_seconds` finds the rest: other replicas' leftovers, events written
        before a crash, and anything a failed pass left behind.
        """
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        while True:
            self.outbox.wake.clear()
            hints = self.outbox.take_hints()
            scan = loop.time() >= next_scan
            try:
                published = await self.publish_hinted(hints)
                if scan:
                    published += await self.publish_pending()
                    next_scan = loop.time() + self.settings.outbox_poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay pass failed; retrying", exc_info=True)
                published = 0
                await asyncio.sleep(self.settings.outbox_poll_seconds)
            if published and scan:
                next_scan = loop.time()  # the scan hit its batch size: more may be waiting
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
        total = 0
        for collection in self.collections.values():
            candidates = await collection.find(
                {PENDING: True}, projection={"_id": 1}, limit=self.batch
            ).to_list()
            total += await self._publish(collection, [c["_id"] for c in candidates])
        return total

    async def _publish(self, collection: AsyncCollection[Document], keys: list[Any]) -> int:
        now = datetime.now(UTC)
        docs = await asyncio.gather(*(self._claim(collection, key, now) for key in keys))
        claimed = [doc for doc in docs if doc is not None and doc.get(OUTBOX)]
        # Flagged but empty: a crash between removing the events and clearing the flag.
        await asyncio.gather(
            *(self._settle(collection, d["_id"], []) for d in docs if d and not d.get(OUTBOX))
        )
        # Documents go out concurrently (one producer batch carries many of them), but each
        # document's events one after another: an event is sent only once the one before it
        # is acknowledged, so a failed send can never be overtaken by its successor.
        counts = await asyncio.gather(*(self._publish_document(collection, doc) for doc in claimed))
        return sum(counts)

    async def _publish_document(self, collection: AsyncCollection[Document], doc: Document) -> int:
        sent = []
        for entry in doc[OUTBOX]:
            try:
                await (await self._send(entry))
            except Exception as exc:
                log.warning(
                    "publish failed", extra={"event_id": entry["event_id"], "error": repr(exc)}
                )
                break
            sent.append(entry["event_id"])
            metrics.EVENTS_PUBLISHED.labels(topic=entry["topic"]).inc()
        await self._settle(collection, doc["_id"], sent)
        return len(sent)

    async def _claim(
        self, collection: AsyncCollection[Document], key: Any, now: datetime
    ) -> Document | None:
        return await collection.find_one_and_update(
            {
                "_id": key,
                PENDING: True,
                "$or": [
                    {LEASE_UNTIL: None},
                    {LEASE_UNTIL: {"$lt": now}},
                    {LEASE_OWNER: self.owner},
                ],
            },
            {
                "$set": {
                    LEASE_OWNER: self.owner,
                    LEASE_UNTIL: now + timedelta(seconds=self.settings.outbox_lease_seconds),
                }
            },
            projection={OUTBOX: 1},
            return_document=ReturnDocument.AFTER,
        )

    async def _send(self, entry: Document) -> asyncio.Future[Any]:
        envelope = Envelope.model_validate(entry["envelope"])
        future: asyncio.Future[Any] = await self.producer.send(
            entry["topic"],
            value=encode(envelope),
            key=entry["key"].encode(),
            headers=headers_for(envelope, entry.get("traceparent")),
        )
        return future

    async def _settle(
        self, collection: AsyncCollection[Document], key: Any, sent: list[str]
    ) -> None:
        # Only while we still hold the lease: if it ran out and another replica took over, that
        # replica publishes these events again (same ids) and removes them itself.
        release: Document = {"$set": {LEASE_OWNER: None, LEASE_UNTIL: None}}
        if sent:
            release["$pull"] = {OUTBOX: {"event_id": {"$in": sent}}}
        await collection.update_one({"_id": key, LEASE_OWNER: self.owner}, release)
        # Clearing the flag only when the array is empty is atomic against a writer who pushed
        # new events meanwhile: its push set the flag and made the array non-empty.
        await collection.update_one(
            {"_id": key, PENDING: True, OUTBOX: {"$size": 0}}, {"$set": {PENDING: False}}
        )

    async def pending_count(self) -> int:
        return sum([await c.count_documents({PENDING: True}) for c in self.collections.values()])
