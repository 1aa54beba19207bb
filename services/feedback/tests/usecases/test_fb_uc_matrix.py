"""The department matrix's use cases on the in-memory projection: which period each event counts
in, redelivery, backlog ages at read time, who sees what, and reciprocity."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from icr.contracts import Envelope
from icr.contracts.requests import (
    RequestCancelled,
    RequestClosed,
    RequestReopened,
    RequestResolved,
    RequestSubmitted,
)
from icr.feedback.domain.errors import Forbidden, InvalidInput
from icr.feedback.handlers import matrix
from icr.feedback.testing import T0, FakeWorld, in_memory, member
from icr.kit.periods import PeriodKind, period_key

ROOT = member("root", "it", "admin")
IVY = member("ivy", "it", "manager")
ANA = member("ana", "sales", "employee")
BO = member("bo", "it", "agent")

Event = RequestSubmitted | RequestResolved | RequestReopened | RequestClosed | RequestCancelled


class Life:
    """One request's events, each with its position in the aggregate, as the relay numbers them."""

    def __init__(self, world: FakeWorld, request_id: str) -> None:
        self.world, self.request_id, self.sequence = world, request_id, 0
        self.sent: list[tuple[Event, Envelope]] = []

    async def send(self, event: Event) -> None:
        self.sequence += 1
        envelope = Envelope(
            event_id=f"{self.request_id}-{self.sequence}",
            type=event.event_type,
            version=1,
            source="requests",
            aggregate_id=self.request_id,
            sequence=self.sequence,
            data={},
        )
        self.sent.append((event, envelope))
        await matrix.project_request_event(event, envelope, deps=self.world.deps)

    async def submit(self, at: datetime, provider: str = "it", consumer: str = "sales") -> None:
        await self.send(
            RequestSubmitted(
                request_id=self.request_id,
                title="t",
                catalog_item_id="c",
                catalog_item_version=1,
                requester_id="ana",
                requester_department_id=consumer,
                provider_department_id=provider,
                priority="medium",
                submitted_at=at,
            )
        )

    async def resolve(self, at: datetime, *, met: bool, reopen_count: int = 0) -> None:
        await self.send(
            RequestResolved(
                request_id=self.request_id,
                resolved_by="bo",
                resolved_at=at,
                note="",
                provider_department_id="it",
                requester_id="ana",
                requester_department_id="sales",
                first_response_met=True,
                resolution_met=met,
                first_response_seconds=1,
                resolution_seconds=1,
                reopen_count=reopen_count,
            )
        )

    async def reopen(self, at: datetime, count: int) -> None:
        await self.send(
            RequestReopened(
                request_id=self.request_id,
                reopened_by="ana",
                reopened_at=at,
                reason="again",
                provider_department_id="it",
                reopen_count=count,
            )
        )


def month(at: datetime) -> str:
    return period_key(PeriodKind.MONTH, at)


async def test_a_reopen_counts_against_the_resolution_it_undoes() -> None:
    world = in_memory()
    life = Life(world, "r1")
    resolved_at = datetime(2026, 11, 30, 20, 0, tzinfo=T0.tzinfo)
    await life.submit(resolved_at - timedelta(hours=2))
    await life.resolve(resolved_at, met=False)
    await life.reopen(resolved_at + timedelta(days=2), count=1)  # in December
    await life.resolve(resolved_at + timedelta(days=3), met=True, reopen_count=1)

    november = await world.deps.matrix.counts(PeriodKind.MONTH, "2026-11")
    december = await world.deps.matrix.counts(PeriodKind.MONTH, "2026-12")
    nov, dec = november[("it", "sales")], december[("it", "sales")]
    assert (nov.submitted, nov.resolved, nov.reopened, nov.reopen_rate) == (1, 1, 1, 1.0)
    assert nov.sla_attainment == 0.0
    assert (dec.submitted, dec.resolved, dec.reopened, dec.sla_attainment) == (0, 1, 0, 1.0)


async def test_redelivered_events_change_nothing() -> None:
    world = in_memory()
    life = Life(world, "r1")
    await life.submit(T0)
    await life.resolve(T0 + timedelta(hours=1), met=True)
    await life.send(
        RequestClosed(
            request_id="r1",
            closed_by="ana",
            closed_at=T0 + timedelta(hours=2),
            provider_department_id="it",
            requester_id="ana",
        )
    )
    before = await world.deps.matrix.counts(PeriodKind.MONTH, month(T0))
    for event, envelope in life.sent:  # everything again: each finds the request past it
        await matrix.project_request_event(event, envelope, deps=world.deps)
    assert await world.deps.matrix.counts(PeriodKind.MONTH, month(T0)) == before
    assert await world.deps.matrix.open_now() == {}  # the replayed submission reopened nothing


async def test_the_backlog_ages_at_read_time() -> None:
    world = in_memory()
    first, second, done = Life(world, "r1"), Life(world, "r2"), Life(world, "r3")
    await first.submit(T0)
    await second.submit(T0 + timedelta(hours=2))
    await done.submit(T0)
    await done.send(
        RequestCancelled(request_id="r3", cancelled_by="ana", cancelled_at=T0 + timedelta(hours=1))
    )
    world.clock.set(T0 + timedelta(hours=4))
    _, cells = await matrix.department_matrix(
        PeriodKind.MONTH, month(T0), member=ROOT, deps=world.deps
    )
    [cell] = cells
    assert cell.counts.submitted == 3
    assert cell.counts.cancelled == 1
    assert (cell.backlog.count, cell.backlog.oldest_since) == (2, T0)
    assert (cell.backlog.oldest_age_seconds, cell.backlog.average_age_seconds) == (
        4 * 3600,
        3 * 3600,
    )
    world.clock.set(T0 + timedelta(hours=5))  # nothing happened, and yet it is older
    _, [later] = await matrix.department_matrix(
        PeriodKind.MONTH, month(T0), member=ROOT, deps=world.deps
    )
    assert later.backlog.oldest_age_seconds == 5 * 3600


async def test_who_sees_which_cells_and_reciprocity() -> None:
    world = in_memory()
    for n, (provider, consumer) in enumerate(
        [("it", "sales"), ("it", "sales"), ("sales", "it"), ("hr", "legal"), ("it", "hr")]
    ):
        await Life(world, f"r{n}").submit(T0, provider, consumer)
    key = month(T0)
    _, everything = await matrix.department_matrix(
        PeriodKind.MONTH, key, member=IVY, deps=world.deps
    )
    assert len(everything) == 4  # managers (and admins) see every pair
    _, own = await matrix.department_matrix(PeriodKind.MONTH, key, member=ANA, deps=world.deps)
    assert [(c.provider_department_id, c.consumer_department_id) for c in own] == [
        ("it", "sales"),
        ("sales", "it"),
    ]
    it = await matrix.reciprocity("it", PeriodKind.MONTH, key, member=BO, deps=world.deps)
    assert (it.provided, it.consumed, it.balance) == (3, 1, 2)
    assert [(c.department_id, c.provided, c.consumed) for c in it.counterparts] == [
        ("hr", 1, 0),
        ("sales", 2, 1),
    ]
    with pytest.raises(Forbidden):
        await matrix.reciprocity("hr", PeriodKind.MONTH, key, member=BO, deps=world.deps)
    with pytest.raises(InvalidInput):
        await matrix.department_matrix(PeriodKind.WEEK, "2026-W60", member=ROOT, deps=world.deps)
