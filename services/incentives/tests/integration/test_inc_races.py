"""Races between consumer members on the real store: a reopen (requests topic) and a rating or a
recovery (feedback topic) are handled by different members at the same time. The interleaving is
forced with gates on the real ledger store (each side proceeds when the other reached a point),
not with sleeps."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from icr.contracts import new_id
from icr.contracts.requests import RequestReopened
from icr.incentives.domain.ledger import Entry
from icr.incentives.domain.settlement import RatingOutcome
from icr.incentives.handlers import awards

pytestmark = pytest.mark.infra


class ReadGate:
    """The real ledger, whose `for_request` lets no caller on before two have read."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self.readers = 0
        self.first = asyncio.Event()
        self.both = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    async def for_request(self, request_id: str) -> list[Entry]:
        found: list[Entry] = await self.ledger.for_request(request_id)
        self.readers += 1
        self.first.set()
        if self.readers >= 2:
            self.both.set()
        await asyncio.wait_for(self.both.wait(), 30)
        return found


class AppendGate:
    """The real ledger, holding any append that carries one rule's entry until released."""

    def __init__(self, ledger: Any, rule_id: str) -> None:
        self.ledger, self.rule_id = ledger, rule_id
        self.reached, self.release = asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    async def _gate(self, entries: list[Entry]) -> None:
        if any(e.rule_id == self.rule_id for e in entries):
            self.reached.set()
            await asyncio.wait_for(self.release.wait(), 30)

    async def append(self, entry: Entry, *, project_due: datetime) -> bool:
        await self._gate([entry])
        new: bool = await self.ledger.append(entry, project_due=project_due)
        return new

    async def append_many(self, entries: list[Entry], *, project_due: datetime) -> set[str]:
        await self._gate(entries)
        new: set[str] = await self.ledger.append_many(entries, project_due=project_due)
        return new


def reopened(request_id: str) -> RequestReopened:
    return RequestReopened(
        request_id=request_id,
        reopened_by="ana",
        reopened_at=datetime.now(UTC),
        reason="still broken",
        assignee_id="bo",
        provider_department_id="it",
        reopen_count=1,
    )


async def test_a_recovery_and_a_reopen_at_once_revoke_each_award_once(  # type: ignore[no-untyped-def]
    service, flow, until, invariant
) -> None:
    f = flow()
    await service.publish(f.submitted(), f.resolved(), f.rated(5))
    await until(lambda: _balances(service, {"bo": 10, "dept:it": 3}))
    gate = ReadGate(service.deps.ledger)
    deps = dataclasses.replace(service.deps, ledger=gate)

    # The recovery (one member) has read the round's awards; the reopen (another) reads them too
    # before either revocation is written.
    recovery = asyncio.create_task(
        awards.withhold_when_recovery_needed(f.request_id, new_id(), deps=deps)
    )
    await asyncio.wait_for(gate.first.wait(), 30)
    await awards.claw_back_when_reopened(reopened(f.request_id), new_id(), deps=deps)
    await recovery

    assert await service.balance("bo") == 0
    assert await service.balance("dept:it") == 0
    await invariant(service.settings)


async def test_a_reopen_while_the_round_is_being_paid_revokes_what_it_paid(  # type: ignore[no-untyped-def]
    service, flow, until, invariant
) -> None:
    f = flow()
    await service.publish(f.submitted(), f.resolved())

    async def resolved() -> bool:
        known = await service.deps.facts.get(f.request_id)
        return known is not None and known.value.resolution is not None

    await until(resolved)
    gate = AppendGate(service.deps.ledger, "team-share")
    deps = dataclasses.replace(service.deps, ledger=gate)
    outcome = RatingOutcome("submitted", 5, new_id(), datetime.now(UTC))
    # The rating's member has decided the round's awards and stalls before writing them;
    # meanwhile the reopen's member claws back what it finds in the ledger and starts round 1.
    settling = asyncio.create_task(awards.settle_when_rated(f.request_id, outcome, deps=deps))
    await asyncio.wait_for(gate.reached.wait(), 30)
    await awards.claw_back_when_reopened(reopened(f.request_id), new_id(), deps=service.deps)
    gate.release.set()
    await settling

    await until(lambda: _balances(service, {"bo": 0, "dept:it": 0}), timeout=10)
    await invariant(service.settings)


async def _balances(service: Any, expected: dict[str, int]) -> bool:
    return all([await service.balance(a) == v for a, v in expected.items()])
