"""Writing ledger entries and counting them into balances and leaderboards."""

from __future__ import annotations

import logging
from datetime import timedelta

from icr.incentives.domain.ledger import Entry
from icr.incentives.domain.policy import Policy
from icr.incentives.domain.settlement import cap_key
from icr.incentives.handlers.deps import Deps

log = logging.getLogger(__name__)


async def record_entry(entry: Entry, *, deps: Deps) -> bool:
    """Appends the entry (once, ever: the ledger's unique key) and counts it; True if new.

    The entry carries a projection timer: if this process dies between the append and the
    count, the timer counts it (`project_entry_when_due`)."""
    due = deps.clock() + timedelta(seconds=deps.settings.projection_grace_seconds)
    new = await deps.ledger.append(entry, project_due=due)
    if new:
        await project_entry(entry, deps=deps)
    return new


async def project_entry(entry: Entry, *, deps: Deps) -> None:
    """Counts an entry into its account and leaderboards; each counts an entry id once."""
    await deps.accounts.apply(entry)
    if entry.earning:
        await deps.boards.apply(entry)
    await deps.ledger.projected(entry.id)


async def project_entry_when_due(entry_id: str, *, deps: Deps) -> None:
    entry = await deps.ledger.get(entry_id)
    if entry is not None:
        await project_entry(entry, deps=deps)


async def pay(entry: Entry, policy: Policy, *, deps: Deps) -> bool:
    """An award within the policy's department-pair cap; True if it is in the ledger."""
    # A redelivery finds its entry id counted by the cap (and then refused by the ledger).
    key, cap = cap_key(entry), policy.pair_cap_per_month
    capped = key is not None and cap is not None
    if capped and not await deps.caps.take(str(key), entry.id, entry.amount, cap or 0):
        log.info(
            "award over the department pair cap; not paid",
            extra={"entry_id": entry.id, "cap_key": key, "cap": cap},
        )
        return False
    await record_entry(entry, deps=deps)
    return True
