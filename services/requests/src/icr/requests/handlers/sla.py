"""The SLA scheduler: warnings and breaches on time, and automatic close of resolved requests.

Timers are due-time fields of the request document (`sla_next_check_at`, `auto_close_at`),
recomputed in every write of the request, so they survive restarts and move with the state
they depend on. `DueWork` claims one due request at a time with a lease, so two replicas never
handle the same timer together; the domain records each warning and breach once per clock, so
even a handler run twice (a lease that ran out) emits nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime

from icr.contracts import Event
from icr.kit.scheduler import DueWork
from icr.kit.service import Runtime, Worker
from icr.requests.clock import Clock, system_clock
from icr.requests.domain.lifecycle import Status
from icr.requests.domain.timeline import SYSTEM
from icr.requests.handlers.deps import Deps, retrying, timer_collection
from icr.requests.handlers.importing import import_timer
from icr.requests.handlers.subrequests import sync_parent
from icr.requests.settings import RequestsSettings
from icr.requests.store.request_codec import AUTO_CLOSE_DUE, SLA_DUE

log = logging.getLogger(__name__)


async def check_sla_when_due(request_id: str, now: datetime, *, deps: Deps) -> list[Event]:
    """Record the warnings and breaches due by `now`; always moves the timer on."""

    async def attempt() -> list[Event]:
        loaded = await deps.requests.get(request_id)
        if loaded is None:
            return []
        events = loaded.value.check_sla(now=now, share=deps.policy.warning_share)
        await deps.requests.save(loaded)
        return events

    events = await retrying(deps, attempt)
    if events:
        types = [e.event_type for e in events]
        log.info("sla events recorded", extra={"request_id": request_id, "events": types})
    return events


async def close_when_unconfirmed(request_id: str, now: datetime, *, deps: Deps) -> bool:
    """Close a resolved request nobody confirmed once its delay has passed; True if closed."""

    async def attempt() -> bool:
        loaded = await deps.requests.get(request_id)
        if loaded is None:
            return False
        request = loaded.value
        due = request.auto_close_at(deps.policy)
        closing = request.status is Status.RESOLVED and due is not None and now >= due
        if closing:
            request.close(by=SYSTEM, at=now, automatic=True, policy=deps.policy)
        # Saved either way: the write recomputes the timer, so a stale one never fires again.
        await deps.requests.save(loaded)
        return closing

    closed = await retrying(deps, attempt)
    if closed:
        log.info("request closed automatically", extra={"request_id": request_id})
        loaded = await deps.requests.get(request_id)
        if loaded is not None:
            await sync_parent(loaded.value, deps=deps)
    return closed


def sla_timers(deps: Deps, *, owner: str | None = None) -> list[DueWork]:
    """The two durable timers of this service, sharing one owner name for their leases."""
    owner = owner or f"requests-{secrets.token_hex(4)}"
    settings = deps.settings
    collection = timer_collection(deps.requests)

    async def on_sla(request_id: str, now: datetime) -> None:
        await check_sla_when_due(request_id, now, deps=deps)

    async def on_auto_close(request_id: str, now: datetime) -> None:
        await close_when_unconfirmed(request_id, now, deps=deps)

    return [
        DueWork(
            collection,
            due_field=due_field,
            handler=handler,
            owner=owner,
            lease_seconds=settings.sla_lease_seconds,
            poll_seconds=settings.sla_poll_seconds,
            clock=deps.clock,
            lease_clock=deps.store_clock,
        )
        for due_field, handler in ((SLA_DUE, on_sla), (AUTO_CLOSE_DUE, on_auto_close))
    ]


def sla_worker(clock: Clock = system_clock) -> Worker:
    """The `ServiceSpec.workers` entry that runs the service's durable timers for its lifetime:
    SLA checks, automatic close, and resuming interrupted directory imports."""

    async def sla_scheduler(runtime: Runtime) -> None:
        settings = runtime.settings
        if not isinstance(settings, RequestsSettings):
            raise TypeError("the SLA scheduler needs RequestsSettings")
        deps = Deps.build(
            runtime.mongo, runtime.outbox, settings, clock, store_clock=runtime.store_clock
        )
        owner = f"requests-{secrets.token_hex(4)}"
        timers = [*sla_timers(deps, owner=owner), import_timer(deps, owner=owner)]
        await asyncio.gather(*(timer.run() for timer in timers))

    return sla_scheduler
