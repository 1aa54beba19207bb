"""The fast tier of the incentives service: use cases on in-memory fakes (icr.incentives.testing)
with a clock that moves only when told to. The event builders are fixtures (test modules are not
importable under --import-mode=importlib)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from icr.contracts import new_id
from icr.contracts.requests import RequestReopened, RequestResolved, RequestSubmitted
from icr.incentives.domain.ledger import Entry
from icr.incentives.handlers import awards
from icr.incentives.handlers.deps import Deps
from icr.incentives.testing import Fakes, SettableClock, in_memory
from icr.kit.directory import Member


@dataclass
class World:
    deps: Deps
    fakes: Fakes
    clock: SettableClock

    def entries(self, account: str | None = None) -> list[Entry]:
        return [e for e in self.fakes.ledger.entries.values() if account in (None, e.account)]

    async def balance(self, account: str) -> int:
        found = await self.deps.accounts.get(account)
        return found.balance if found else 0

    async def submit(self, request_id: str, requester: str = "ana", dept: str = "sales") -> None:
        await awards.track_request_when_submitted(
            RequestSubmitted(
                request_id=request_id,
                title="New laptop",
                catalog_item_id="laptop",
                catalog_item_version=1,
                requester_id=requester,
                requester_department_id=dept,
                provider_department_id="it",
                priority="medium",
                submitted_at=self.clock(),
            ),
            deps=self.deps,
        )

    async def resolve(
        self,
        request_id: str,
        *,
        met: bool = True,
        round: int = 0,
        assignee: str = "bo",
        event_id: str | None = None,
        requester: str = "ana",
        dept: str = "sales",
    ) -> str:
        event_id = event_id or new_id()
        event = RequestResolved(
            request_id=request_id,
            resolved_by=assignee,
            resolved_at=self.clock(),
            note="done",
            assignee_id=assignee,
            provider_department_id="it",
            requester_id=requester,
            requester_department_id=dept,
            first_response_met=True,
            resolution_met=met,
            first_response_seconds=60,
            resolution_seconds=600,
            reopen_count=round,
        )
        await awards.settle_when_resolved(event, event_id, deps=self.deps)
        return event_id

    async def rate(self, request_id: str, stars: int, event_id: str | None = None) -> str:
        from icr.incentives.domain.settlement import RatingOutcome

        event_id = event_id or new_id()
        rating = awards.RatingGiven(
            request_id=request_id,
            rater_id="ana",
            rater_department_id="sales",
            provider_department_id="it",
            assignee_id="bo",
            event_id=event_id,
            at=self.clock(),
        )
        outcome = RatingOutcome("submitted", stars, event_id, self.clock())
        await awards.settle_when_rated(request_id, outcome, deps=self.deps, rating=rating)
        return event_id

    async def reopen(self, request_id: str, round: int, event_id: str | None = None) -> str:
        event_id = event_id or new_id()
        event = RequestReopened(
            request_id=request_id,
            reopened_by="ana",
            reopened_at=self.clock(),
            reason="still broken",
            assignee_id="bo",
            provider_department_id="it",
            reopen_count=round,
        )
        await awards.claw_back_when_reopened(event, event_id, deps=self.deps)
        return event_id

    def later(self, **delta: Any) -> None:
        self.clock.now += timedelta(**delta)


@pytest.fixture
def world() -> World:
    clock = SettableClock()
    deps, fakes = in_memory(clock)
    for person, dept, roles in [
        ("ana", "sales", ("employee",)),
        ("bo", "it", ("agent",)),
        ("cy", "it", ("agent",)),
        ("ivy", "it", ("manager",)),
        ("root", "", ("admin",)),
    ]:
        fakes.people.add(person, dept, *roles)
    return World(deps, fakes, clock)


@pytest.fixture
def member() -> Callable[..., Member]:
    def make(person: str, dept: str = "sales", *roles: str) -> Member:
        return Member(person, dept, frozenset(roles or ("employee",)))

    return make
