"""The inbox: which events each consumer group has already processed.

Kafka delivers at least once (a rebalance or crash before the offset commit redelivers), so
every consumer checks the inbox before handling and records the event id after. A handler whose
effect is one document update should also guard that update with `apply_once` so the effect
and its record are atomic; the inbox then only saves the work of re-running it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from pymongo import IndexModel
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

    async def record(self, event_id: str) -> None:
        # A concurrent redelivery may have recorded it first; that is the point.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.insert_one(
                {"_id": self._key(event_id), "group": self.group, "at": datetime.now(UTC)}
            )
