"""Durable timers: run work for documents whose due time has come, once across replicas.

The due time lives in the document itself (e.g. a request's next SLA check), so timers survive
restarts and are rescheduled in the same atomic write that changes the state they depend on.
A replica claims one due document at a time with a lease (`icr.kit.lease`: judged on the store's
clock, renewed while the handler runs, the handler cancelled if the lease is lost), so two
replicas never run the same timer together, and a replica that dies mid-timer delays it only by
the lease. The handler's own write must clear or move the due time, and should be idempotent
(the domain records each warning once) for the one case a lease cannot cover: a handler whose
effect landed just before its lease was lost.

Two clocks, on purpose: `clock` is the domain's time (is the timer due? the handler's `now`),
which tests and simulations move freely; leases are about live processes and use real time on
the store's clock.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from icr.kit.lease import (
    CLOCK_COLLECTION,
    Lease,
    LeaseLost,
    ServerClock,
    forever,
    new_token,
    utcnow,
)
from icr.kit.mongo import Document

log = logging.getLogger(__name__)

Handler = Callable[[Any, datetime], Awaitable[None]]
Clock = Callable[[], datetime]


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
        lease_seconds: float = 5.0,
        poll_seconds: float = 1.0,
        clock: Clock = utcnow,
        lease_clock: ServerClock | None = None,
    ) -> None:
        self.collection = collection
        self.due_field = due_field
        self.lease_field = f"{due_field}_lease"
        self.owner_field = f"{due_field}_lease_owner"
        self.handler = handler
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.lease_clock = lease_clock or ServerClock(collection.database[CLOCK_COLLECTION])

    async def run(self) -> None:
        while True:
            fired = await forever("timer pass", self.run_due, base=self.poll_seconds)
            if not fired:
                await asyncio.sleep(self.poll_seconds)

    async def run_due(self, limit: int = 100) -> int:
        """Handles up to `limit` due documents; returns how many it handled."""
        handled = 0
        while handled < limit:
            now = self.clock()
            lease, fields = await self._new_lease()
            lease_now = fields[self.lease_field] - timedelta(seconds=self.lease_seconds)
            doc = await self.collection.find_one_and_update(
                {
                    self.due_field: {"$lte": now},
                    "$or": [{self.lease_field: None}, {self.lease_field: {"$lt": lease_now}}],
                },
                {"$set": fields},
                projection={"_id": 1, self.due_field: 1},
                sort=[(self.due_field, ASCENDING)],
            )
            if doc is None:
                return handled
            lease.key = doc["_id"]
            try:
                await lease.hold(functools.partial(self.handler, doc["_id"], now))
            except LeaseLost as lost:
                log.warning("timer lease lost; handler stopped", extra={"reason": str(lost)})
                continue
            except Exception:
                # The lease stays: the timer is retried when it runs out, not in a hot loop.
                log.exception("timer handler failed", extra={"doc_id": str(doc["_id"])})
                continue
            await self.release(lease)
            handled += 1
        return handled

    async def release(self, lease: Lease) -> None:
        await release_due_lease(self.collection, self.due_field, lease)

    async def _new_lease(self) -> tuple[Lease, Document]:
        return await due_lease(
            self.collection,
            self.due_field,
            key=None,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            clock=self.lease_clock,
        )


async def due_lease(
    collection: AsyncCollection[Document],
    due_field: str,
    *,
    key: Any,
    owner: str,
    lease_seconds: float,
    clock: ServerClock,
) -> tuple[Lease, Document]:
    """A new lease on a timer's document, as `DueWork` claims it: the lease, and the fields that
    record it. A process that does a document's due work itself (an import and its journal
    entry) writes these fields with the document and holds the lease while it works; the timer
    leaves the document alone meanwhile, and takes it over a lease after that process dies."""
    sent = asyncio.get_running_loop().time()
    now = await clock.now()
    lease = Lease(
        collection=collection,
        key=key,
        token_field=f"{due_field}_lease_owner",
        until_field=f"{due_field}_lease",
        token=new_token(owner),
        seconds=lease_seconds,
        clock=clock,
        sure_until=0.0,
    ).started(sent)
    until = now + timedelta(seconds=lease_seconds)
    return lease, {lease.until_field: until, lease.token_field: lease.token}


async def release_due_lease(
    collection: AsyncCollection[Document], due_field: str, lease: Lease
) -> None:
    """Frees our own lease only: if it ran out and another replica took the timer over, its
    lease must stand, or a third replica could run the same timer alongside it."""
    await collection.update_one(
        lease.guard, {"$set": {f"{due_field}_lease": None, f"{due_field}_lease_owner": None}}
    )
