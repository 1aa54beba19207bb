"""The per-request projection: rounds, either order of facts, settling once."""

from __future__ import annotations

from datetime import UTC, datetime

from icr.incentives.domain.settlement import RatingOutcome, RequestFacts, Resolution

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def resolution(event_id: str = "res") -> Resolution:
    return Resolution(event_id, "bo", True, True, T0)


def test_a_rating_that_arrives_before_the_resolution_waits_for_it() -> None:
    f = RequestFacts("r1")
    assert f.rated(RatingOutcome("submitted", 5, "rate", T0))
    assert not f.ready
    f.resolved(resolution(), round=0, settle_due=T0)
    assert f.ready


def test_a_round_settles_once() -> None:
    f = RequestFacts("r1")
    f.resolved(resolution(), round=0, settle_due=T0)
    f.rated(RatingOutcome("expired", None, "exp", T0))
    f.mark_settled()
    assert not f.ready
    assert f.settle_due is None
    assert not f.rated(RatingOutcome("submitted", 5, "late", T0))


def test_reopening_starts_a_new_round_that_waits_again() -> None:
    f = RequestFacts("r1")
    f.resolved(resolution(), round=0, settle_due=T0)
    f.rated(RatingOutcome("submitted", 5, "rate", T0))
    f.mark_settled()
    assert f.reopened(1)
    assert (f.resolution, f.rating, f.settled) == (None, None, False)
    assert not f.reopened(1)  # a redelivered reopen changes nothing
    assert f.resolved(resolution("res-2"), round=1, settle_due=T0)
    assert not f.resolved(resolution("res-old"), round=0, settle_due=T0)  # stale


def test_recovery_is_flagged_once() -> None:
    f = RequestFacts("r1")
    assert f.needs_recovery("rec")
    assert not f.needs_recovery("rec-again")
    assert f.recovery_event_id == "rec"
