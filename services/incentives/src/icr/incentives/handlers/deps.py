"""What use cases depend on, bundled so routes, consumers, timers and tests hand them over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from icr.incentives.clock import Clock, system_clock
from icr.incentives.handlers.ports import (
    Accounts,
    AllowanceRepository,
    Boards,
    Caps,
    FactsRepository,
    Ledger,
    People,
    PolicyRepository,
    RedemptionRepository,
    RewardRepository,
)
from icr.incentives.settings import IncentivesSettings
from icr.kit.outbox import ConcurrentUpdate

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    ledger: Ledger
    accounts: Accounts
    boards: Boards
    caps: Caps
    facts: FactsRepository
    policies: PolicyRepository
    allowances: AllowanceRepository
    rewards: RewardRepository
    redemptions: RedemptionRepository
    people: People
    settings: IncentivesSettings
    clock: Clock = system_clock


async def retrying(deps: Deps, attempt: Callable[[], Awaitable[T]]) -> T:
    """Runs a read-decide-write `attempt` again when another writer won the race; each attempt
    reloads and decides afresh, so a lost race never overwrites the winner."""
    tries = deps.settings.write_retries
    for n in range(1, tries + 1):
        try:
            return await attempt()
        except ConcurrentUpdate:
            if n == tries:
                raise
            log.info("concurrent update; retrying", extra={"attempt": n})
            await asyncio.sleep(0.002 * n)
    raise AssertionError("unreachable")
