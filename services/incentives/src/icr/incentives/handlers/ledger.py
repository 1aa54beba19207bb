"""Writing ledger entries and counting them into balances and leaderboards.

The hot path writes the entries of one event together: one insert for all of them (each still
its own document with its events, refused alone by the ledger's unique key), one bulk write per
projection (accounts, leaderboard lines), one write clearing their projection timers. Four
round trips whether an event pays one entry or three."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from icr.incentives.domain.ledger import Entry
from icr.incentives.domain.policy import Policy
from icr.incentives.domain.settlement import cap_key
from icr.incentives.handlers.deps import Deps

log = logging.getLogger(__name__)


async def record_entry(entry: Entry, *, deps: Deps) -> bool:
    """Appends the entry (once, ever: the ledger's unique key) and counts it; True if new."""
    return bool(await record_entries([entry], deps=deps))


async def record_entries(entries: Sequence[Entry], *, deps: Deps) -> list[Entry]:
    """Appends the entries (each once, ever) and counts the new ones; returns those.

    Each entry carries a projection timer: if this process dies between the append and the
    count, the timer counts it (`project_entry_when_due`). An entry refused as a duplicate is
    not counted here: it was counted by whoever appended it, or will be by its timer."""
    if not entries:
        return []
    due = deps.clock() + timedelta(seconds=deps.settings.projection_grace_seconds)
    new = await deps.ledger.append_many(entries, project_due=due)
    fresh = [e for e in entries if e.id in new]
    await project_entries(fresh, deps=deps)
    return fresh


async def project_entry(entry: Entry, *, deps: Deps) -> None:
    await project_entries([entry], deps=deps)


async def project_entries(entries: Sequence[Entry], *, deps: Deps) -> None:
    """Counts entries into their accounts and leaderboards (each counts an entry id once),
    then clears their timers."""
    if not entries:
        return
    await deps.accounts.apply_many(entries)
    earning = [e for e in entries if e.earning]
    if earning:
        await deps.boards.apply_many(earning)
    await deps.ledger.projected_many([e.id for e in entries])


async def project_entry_when_due(entry_id: str, *, deps: Deps) -> None:
    entry = await deps.ledger.get(entry_id)
    if entry is not None:
        await project_entry(entry, deps=deps)


async def within_caps(entries: Sequence[Entry], policy: Policy, *, deps: Deps) -> list[Entry]:
    """The awards the policy's department-pair cap lets through (each all or nothing, in
    order); one counter update per cap key in the usual case. An entry counted before (a
    redelivery) passes again, and the ledger refuses it."""
    cap = policy.pair_cap_per_month
    by_key: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        key = cap_key(entry)
        if key is not None and cap is not None:
            by_key[key].append(entry)
    capped = {e.id for group in by_key.values() for e in group}
    allowed = {e.id for e in entries if e.id not in capped}
    for key, group in by_key.items():
        taken = await deps.caps.take_many(key, [(e.id, e.amount) for e in group], cap or 0)
        allowed |= taken
        for entry in group:
            if entry.id not in taken:
                log.info(
                    "award over the department pair cap; not paid",
                    extra={"entry_id": entry.id, "cap_key": key, "cap": cap},
                )
    return [e for e in entries if e.id in allowed]


async def pay(entry: Entry, policy: Policy, *, deps: Deps) -> bool:
    """An award within the policy's department-pair cap; True if it is in the ledger."""
    if not await within_caps([entry], policy, deps=deps):
        return False
    await record_entry(entry, deps=deps)
    return True
