"""What use cases depend on, bundled so routes, workers and tests hand them over in one go."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pymongo.asynchronous.collection import AsyncCollection

from icr.kit.lease import ServerClock
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import ConcurrentUpdate, Outbox
from icr.requests.clock import Clock, system_clock
from icr.requests.domain.lifecycle import LifecyclePolicy
from icr.requests.handlers.ports import (
    CatalogRepository,
    DirectoryRepository,
    ImportJournalRepository,
    RequestRepository,
)
from icr.requests.settings import RequestsSettings
from icr.requests.store import CatalogStore, DirectoryStore, ImportJournal, RequestStore

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    """Stores are typed by their ports: `build` wires the Mongo ones, tests may hand fakes."""

    directory: DirectoryRepository
    catalog: CatalogRepository
    requests: RequestRepository
    imports: ImportJournalRepository
    settings: RequestsSettings
    clock: Clock = system_clock
    store_clock: ServerClock | None = None
    """The runtime's estimate of the store's clock, for the durable timers' leases."""

    @classmethod
    def build(
        cls,
        mongo: Mongo,
        outbox: Outbox,
        settings: RequestsSettings,
        clock: Clock = system_clock,
        *,
        store_clock: ServerClock | None = None,
    ) -> Deps:
        policy = settings.policy
        return cls(
            directory=DirectoryStore(mongo, outbox),
            catalog=CatalogStore(mongo, outbox),
            requests=RequestStore(mongo, outbox, policy),
            imports=ImportJournal(
                mongo, lease_seconds=settings.sla_lease_seconds, clock=store_clock
            ),
            settings=settings,
            clock=clock,
            store_clock=store_clock,
        )

    @property
    def policy(self) -> LifecyclePolicy:
        return self.requests.policy


def timer_collection(store: object) -> AsyncCollection[Document]:
    """The collection a durable timer (`DueWork`) scans; timers run on the Mongo stores only."""
    if isinstance(store, RequestStore | ImportJournal):
        return store.collection
    raise TypeError(f"durable timers need a Mongo store, not {type(store).__name__}")


async def retrying(deps: Deps, attempt: Callable[[], Awaitable[T]]) -> T:
    """Run a read-decide-write `attempt` again when another writer won the race.

    Each attempt reloads and decides afresh, so a lost race never overwrites the winner.
    """
    tries = deps.settings.write_retries
    for n in range(1, tries + 1):
        try:
            return await attempt()
        except ConcurrentUpdate:
            if n == tries:
                raise
            log.info("concurrent update; retrying", extra={"attempt": n})
            await asyncio.sleep(0.005 * n)
    raise AssertionError("unreachable")
