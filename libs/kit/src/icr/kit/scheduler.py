"""Durable timers: run work for documents whose due time has come, once across replicas.

The due time lives in the document itself (e.g. a request's next SLA check), so timers survive
restarts and are rescheduled in the same atomic write that changes the state they depend on.
A replica claims one due document at a time with a lease (`find_one_and_update`), so two
replicas never run the same timer together; the handler's own write must clear or move the due
time, and should be idempotent (the domain records each warning once) in case a lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from icr.kit.mongo import Document

log = logging.getLogger(__name__)

Handler = Callable[[Any, datetime], Awaitable[None]]
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def due_index(due_field: str) -> IndexModel:
    return IndexModel([(due_field, ASCENDING)], name=f"{due_field}_due")


class DueWork:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        due_field: str,
        handler: Handler,
        owner: str,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        clock: Clock = _utcnow,
    ) -> None:
        self.collection = collection
        self.due_field = due_field
        self.lease_field = f"{due_field}_lease"
        self.owner_field = f"{due_field}_lease_owner"
        self.handler = handler
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.clock = clock

    async def run(self) -> None:
        while True:
            try:
                fired = await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("timer pass failed; retrying", exc_info=True)
                fired = 0
            if not fired:
                await asyncio.sleep(self.poll_seconds)

    async def run_due(self, limit: int = 100) -> int:
        """Handles up to `limit` due documents; returns how many it handled."""
        handled = 0
        while handled < limit:
            now = self.clock()
            doc = await self.collection.find_one_and_update(
                {
                    self.due_field: {"$lte": now},
                    "$or": [{self.lease_field: None}, {self.lease_field: {"$lt": now}}],
                },
                {"$set": {self.lease_field: now + self.lease, self.owner_field: self.owner}},
                projection={"_id": 1, self.due_field: 1},
                sort=[(self.due_field, ASCENDING)],
            )
            if doc is None:
                return handled
            try:
                await self.handler(doc["_id"], now)
            except Exception:
                # The lease stays: the timer is retried when it runs out, not in a hot loop.
                log.exception("timer handler failed", extra={"doc_id": str(doc["_id"])})
                continue
            # Only our own lease: if it ran out and another replica took the timer over, its
            # lease must stand, or a third replica could run the same timer alongside it.
            await self.collection.update_one(
                {"_id": doc["_id"], self.owner_field: self.owner},
                {"$set": {self.lease_field: None, self.owner_field: None}},
            )
            handled += 1
        return handled
