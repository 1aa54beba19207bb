"""Durable timers (the kit's DueWork): settle a resolution whose rating never came, count an
entry a crash left uncounted, finish a redemption a crash interrupted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from icr.incentives.handlers.awards import settle_when_due
from icr.incentives.handlers.deps import Deps
from icr.incentives.handlers.ledger import project_entry_when_due
from icr.incentives.handlers.rewards import advance_redemption
from icr.incentives.store.facts import FACTS, SETTLE_DUE
from icr.incentives.store.ledger import LEDGER, PROJECT_DUE
from icr.incentives.store.rewards import REDEMPTION_DUE, REDEMPTIONS
from icr.incentives.wiring import deps_of
from icr.kit.scheduler import DueWork
from icr.kit.service import Runtime

Act = Callable[[Any, Deps], Awaitable[None]]


def _due_work(runtime: Runtime, collection: str, due_field: str, act: Act) -> DueWork:
    deps = deps_of(runtime)

    async def handler(key: Any, now: datetime) -> None:
        await act(key, deps)

    return DueWork(
        runtime.mongo.collection(collection),
        due_field=due_field,
        handler=handler,
        owner=runtime.settings.service_name,
        lease_seconds=deps.settings.timer_lease_seconds,
        poll_seconds=deps.settings.timer_poll_seconds,
        clock=deps.clock,
        lease_clock=runtime.store_clock,
    )


async def _settle(key: Any, deps: Deps) -> None:
    await settle_when_due(str(key), deps=deps)


async def _project(key: Any, deps: Deps) -> None:
    await project_entry_when_due(str(key), deps=deps)


async def _redeem(key: Any, deps: Deps) -> None:
    await advance_redemption(str(key), deps=deps)


TIMERS: list[tuple[str, str, Act]] = [
    (FACTS, SETTLE_DUE, _settle),
    (LEDGER, PROJECT_DUE, _project),
    (REDEMPTIONS, REDEMPTION_DUE, _redeem),
]


async def timers_worker(runtime: Runtime) -> None:
    async with asyncio.TaskGroup() as group:
        for collection, field, act in TIMERS:
            group.create_task(_due_work(runtime, collection, field, act).run())
