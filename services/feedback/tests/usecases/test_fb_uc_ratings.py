"""Invitations, ratings, timers and the recovery trigger, on in-memory fakes (fast tier)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from icr.contracts.feedback import RatingChanged, RecoveryNeeded
from icr.feedback.domain.errors import Conflict, Forbidden, InvalidInput
from icr.feedback.domain.rating import Answer, RatingStatus, Resolution, recovery_request_id
from icr.feedback.handlers.invitations import (
    invite_when_request_resolved,
    link_recovery_outcome,
    remind_or_expire_when_due,
)
from icr.feedback.handlers.ratings import (
    change_rating,
    department_ratings,
    get_rating,
    rate_clarity,
    submit_rating,
)
from icr.feedback.testing import T0, FakeWorld, in_memory, member

ANA = member("ana", "sales")
BO = member("bo", "it", "agent")
IVY = member("ivy", "it", "manager")
DAN = member("dan", "hr")


def resolution(
    request_id: str = "r-1", *, n: int = 1, requester: str = "ana", **kw: object
) -> Resolution:
    values: dict[str, object] = {
        "request_id": request_id,
        "resolution": n,
        "requester_id": requester,
        "requester_department_id": "sales",
        "provider_department_id": "it",
        "assignee_id": "bo",
        "resolved_at": T0,
        **kw,
    }
    return Resolution(**values)  # type: ignore[arg-type]


async def invited(world: FakeWorld, request_id: str = "r-1") -> None:
    await invite_when_request_resolved(resolution(request_id), deps=world.deps)
    world.outbox.take()


async def test_a_redelivered_resolution_invites_once() -> None:
    world = in_memory()
    await invite_when_request_resolved(resolution(), deps=world.deps)
    await invite_when_request_resolved(resolution(), deps=world.deps)
    assert world.outbox.types() == ["feedback.rating.requested"]


async def test_the_fatigue_cap_skips_invitations_beyond_n_per_period() -> None:
    world = in_memory(invitation_cap=2)
    for n in range(3):
        await invite_when_request_resolved(resolution(f"r-{n}"), deps=world.deps)
    # A redelivery of one already counted uses no second place.
    await invite_when_request_resolved(resolution("r-0"), deps=world.deps)
    statuses = [(await get_rating(f"r-{n}", member=ANA, deps=world.deps)) for n in range(3)]
    assert [(r.status, r.skip_reason) for r in statuses] == [
        (RatingStatus.INVITED, None),
        (RatingStatus.INVITED, None),
        (RatingStatus.SKIPPED, "fatigue_cap"),
    ]
    # The next month has places again.
    await invite_when_request_resolved(
        resolution("r-9", resolved_at=T0 + timedelta(days=31)), deps=world.deps
    )
    assert (await get_rating("r-9", member=ANA, deps=world.deps)).status is RatingStatus.INVITED


async def test_a_new_resolution_replaces_an_unanswered_invitation() -> None:
    world = in_memory()
    await invited(world)
    later = T0 + timedelta(days=2)
    await invite_when_request_resolved(resolution(n=2, resolved_at=later), deps=world.deps)
    rating = await get_rating("r-1", member=ANA, deps=world.deps)
    assert (rating.resolution, rating.status, rating.requested_at) == (
        2,
        RatingStatus.INVITED,
        later,
    )
    assert world.outbox.types() == ["feedback.rating.requested"]
    # A stale copy of the first resolution changes nothing.
    await invite_when_request_resolved(resolution(n=1), deps=world.deps)
    assert (await get_rating("r-1", member=ANA, deps=world.deps)).resolution == 2


async def test_after_a_rating_a_new_resolution_is_skipped_and_the_rating_stands() -> None:
    world = in_memory()
    await invited(world)
    await submit_rating("r-1", Answer(4), member=ANA, deps=world.deps)
    world.outbox.take()
    await invite_when_request_resolved(resolution(n=2), deps=world.deps)
    rating = await get_rating("r-1", member=ANA, deps=world.deps)
    assert (rating.status, rating.stars, rating.skip_reason) == (
        RatingStatus.RATED,
        4,
        "already_rated",
    )
    assert world.outbox.types() == ["feedback.rating.skipped"]


async def test_rating_a_request_you_did_not_submit_is_forbidden() -> None:
    world = in_memory()
    await invited(world)
    with pytest.raises(Forbidden):
        await submit_rating("r-1", Answer(5), member=DAN, deps=world.deps)


async def test_rating_twice_is_a_conflict() -> None:
    world = in_memory()
    await invited(world)
    await submit_rating("r-1", Answer(5), member=ANA, deps=world.deps)
    with pytest.raises(Conflict):
        await submit_rating("r-1", Answer(4), member=ANA, deps=world.deps)


async def test_stars_out_of_range_and_an_overlong_comment_are_invalid() -> None:
    world = in_memory(rating_comment_max=10)
    await invited(world)
    with pytest.raises(InvalidInput) as bad:
        await submit_rating(
            "r-1", Answer(6, "x" * 11, {"quality": 0, "speed": 3}), member=ANA, deps=world.deps
        )
    assert {e.field for e in bad.value.errors} == {
        "stars",
        "comment",
        "dimensions.quality",
        "dimensions.speed",
    }
    assert world.outbox.types() == []


async def test_a_change_is_allowed_within_the_window_only() -> None:
    world = in_memory(rating_change_hours=1)
    await invited(world)
    await submit_rating("r-1", Answer(5), member=ANA, deps=world.deps)
    world.clock.advance(timedelta(minutes=30))
    await change_rating("r-1", Answer(4, "ok"), member=ANA, deps=world.deps)
    changed = world.outbox.events[-1]
    assert isinstance(changed, RatingChanged)
    assert (changed.previous_stars, changed.stars) == (5, 4)
    world.clock.advance(timedelta(minutes=31))
    with pytest.raises(Conflict, match="changed within"):
        await change_rating("r-1", Answer(3), member=ANA, deps=world.deps)


async def test_a_low_rating_raises_recovery_once_even_when_changed_lower() -> None:
    world = in_memory()
    await invited(world)
    await submit_rating("r-1", Answer(2, "slow"), member=ANA, deps=world.deps)
    await change_rating("r-1", Answer(1), member=ANA, deps=world.deps)
    raised = [e for e in world.outbox.events if isinstance(e, RecoveryNeeded)]
    assert len(raised) == 1
    assert raised[0].recovery_request_id == recovery_request_id("r-1")
    assert (raised[0].stars, raised[0].comment) == (2, "slow")


async def test_a_good_rating_raises_no_recovery() -> None:
    world = in_memory()
    await invited(world)
    await submit_rating("r-1", Answer(3), member=ANA, deps=world.deps)
    assert "feedback.rating.recovery_needed" not in world.outbox.types()


async def test_the_recovery_outcome_is_linked_once() -> None:
    world = in_memory()
    await invited(world)
    await submit_rating("r-1", Answer(1), member=ANA, deps=world.deps)
    world.outbox.take()
    rec = recovery_request_id("r-1")
    assert await link_recovery_outcome(rec, by="ivy", at=T0, deps=world.deps)
    assert await link_recovery_outcome(rec, by="ivy", at=T0, deps=world.deps)
    assert world.outbox.types() == ["feedback.rating.recovery_resolved"]
    assert not await link_recovery_outcome("other", by="ivy", at=T0, deps=world.deps)


async def test_one_reminder_then_expiry() -> None:
    world = in_memory(rating_expiry_hours=10, rating_reminder_before_hours=2)
    await invited(world)
    await remind_or_expire_when_due("r-1", T0 + timedelta(hours=7), deps=world.deps)
    assert world.outbox.types() == []  # early: nothing
    await remind_or_expire_when_due("r-1", T0 + timedelta(hours=8), deps=world.deps)
    await remind_or_expire_when_due("r-1", T0 + timedelta(hours=9), deps=world.deps)
    await remind_or_expire_when_due("r-1", T0 + timedelta(hours=10), deps=world.deps)
    await remind_or_expire_when_due("r-1", T0 + timedelta(hours=11), deps=world.deps)
    assert world.outbox.types() == ["feedback.rating.reminder_due", "feedback.rating.expired"]
    with pytest.raises(Conflict, match="expired"):
        await submit_rating("r-1", Answer(5), member=ANA, deps=world.deps)


async def test_the_agent_rates_the_requests_clarity_once() -> None:
    world = in_memory()
    await invited(world)
    with pytest.raises(Forbidden):
        await rate_clarity("r-1", 4, member=ANA, deps=world.deps)
    await rate_clarity("r-1", 4, member=BO, deps=world.deps)
    with pytest.raises(Conflict):
        await rate_clarity("r-1", 5, member=IVY, deps=world.deps)
    assert world.outbox.types() == ["feedback.rating.clarity_rated"]


async def test_a_departments_ratings_are_for_its_manager_and_agents() -> None:
    world = in_memory()
    await invited(world)
    assert [
        r.request_id for r in await department_ratings("it", member=IVY, deps=world.deps, limit=10)
    ] == ["r-1"]
    with pytest.raises(Forbidden):
        await department_ratings("it", member=DAN, deps=world.deps, limit=10)
