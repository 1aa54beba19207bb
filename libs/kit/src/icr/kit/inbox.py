"""The inbox: which events each consumer group has already processed.

Kafka delivers at least once (a rebalance or crash before the offset commit redelivers), so
every consumer checks the inbox before handling an event without a sequence number and records
the event id after; events with `Envelope.sequence` use `Positions` instead (one record per
aggregate, never purged). A handler whose
effect is one document update should also guard that update with `apply_once` so the effect
and its record are atomic; the inbox then only saves the work of re-running it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from pymongo import IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from icr.kit.mongo import Document

log = logging.getLogger(__name__)

INBOX_COLLECTION = "inbox"
INBOX_INDEXES = [IndexModel([("at", 1)], name="at")]


async def purge_inbox(
    collection: AsyncCollection[Document], *, older_than: timedelta, every: float = 3600.0
) -> None:
    """Forgets old inbox records, forever. A TTL index would do this on real MongoDB, but the
    local stand-in never expires documents, so the service does it itself."""
    while True:
        try:
            await collection.delete_many({"at": {"$lt": datetime.now(UTC) - older_than}})
        except PyMongoError:
            log.warning("inbox purge failed; retrying later", exc_info=True)
        await asyncio.sleep(every)


class Inbox:
    def __init__(self, collection: AsyncCollection[Document], group: str) -> None:
        self.collection = collection
        self.group = group

    def _key(self, event_id: str) -> str:
        return f"{self.group}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        return await self.collection.find_one({"_id": self._key(event_id)}, {"_id": 1}) is not None

    async def record(self, event_id: str, status: str = "applied") -> None:
        """`status` says why the id is done: applied, skipped by an operator, or dead-lettered
        (an undecodable record, whose id is its position)."""
        # A concurrent redelivery may have recorded it first; that is the point.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.insert_one(
                {
                    "_id": self._key(event_id),
                    "group": self.group,
                    "status": status,
                    "at": datetime.now(UTC),
                }
            )


POSITIONS_COLLECTION = "consumer_positions"


class Positions:
    """The last applied sequence number per (group, topic, stream), where a stream is one
    aggregate: its key field and id (`ConsumerRunner._stream`).

    For events that carry `Envelope.sequence` this one record replaces the inbox: an event at or
    below the position is a duplicate or stale and is skipped. Positions are read once per polled
    batch and written once per offset commit (`advance_many`), not once per event. Only the member
    owning the aggregate's partition writes it, so that member may cache it (`$max` keeps it
    monotonic even if two members overlap).
    """

    def __init__(self, collection: AsyncCollection[Document], group: str) -> None:
        self.collection = collection
        self.group = group

    def _key(self, topic: str, stream: str) -> str:
        return f"{self.group}|{topic}|{stream}"

    async def last(self, topic: str, stream: str) -> int:
        doc = await self.collection.find_one({"_id": self._key(topic, stream)}, {"seq": 1})
        return int(doc["seq"]) if doc else 0

    async def last_many(self, streams: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The positions of several streams in one read (0 for a stream not seen yet)."""
        keys = {self._key(*stream): stream for stream in streams}
        found = {
            doc["_id"]: int(doc["seq"])
            async for doc in self.collection.find({"_id": {"$in": list(keys)}}, {"seq": 1})
        }
        return {stream: found.get(key, 0) for key, stream in keys.items()}

    async def advance(self, topic: str, stream: str, sequence: int) -> None:
        await self.collection.update_one(
            {"_id": self._key(topic, stream)}, self._to(sequence), upsert=True
        )

    async def advance_many(self, positions: dict[tuple[str, str], int]) -> None:
        """Several streams in one store call (what a consumer applied or ignored since its last
        commit, written just before the offsets)."""
        if positions:
            await self.collection.bulk_write(
                [
                    UpdateOne({"_id": self._key(*stream)}, self._to(sequence), upsert=True)
                    for stream, sequence in positions.items()
                ],
                ordered=False,
            )

    @staticmethod
    def _to(sequence: int) -> Document:
        return {"$max": {"seq": sequence}, "$set": {"at": datetime.now(UTC)}}
