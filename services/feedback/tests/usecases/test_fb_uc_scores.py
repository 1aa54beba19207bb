"""The score projection's use cases on the in-memory projection: counts, thresholds, the
calibrated table, authorization and the debounced update event."""

from __future__ import annotations

from datetime import timedelta

import pytest

from icr.contracts.feedback import (
    DepartmentScoreUpdated,
    RatingChanged,
    RatingRequested,
    RatingSubmitted,
)
from icr.feedback.domain.errors import Forbidden, InvalidInput, NotFound
from icr.feedback.handlers import scores
from icr.feedback.testing import T0, FakeWorld, in_memory, member
from icr.kit.periods import PeriodKind

ROOT = member("root", "it", "admin")
IVY = member("ivy", "it", "manager")
HAL = member("hal", "hr", "manager")
MONTH = "2026-11"


async def rate(world: FakeWorld, n: int, provider: str, rater: str, stars: int) -> None:
    """Rating number `n`: its invitation and its stars, each event once."""
    requested = RatingRequested(
        request_id=f"r{n}",
        rater_id=rater,
        provider_department_id=provider,
        requested_at=T0,
        requester_department_id="sales",
    )
    await scores.project_rating_requested(requested, f"e{n}-req", deps=world.deps)
    submitted = RatingSubmitted(
        request_id=f"r{n}",
        rater_id=rater,
        rater_department_id="sales",
        provider_department_id=provider,
        stars=stars,
        submitted_at=T0 + timedelta(hours=1),
        requested_at=T0,
    )
    await scores.project_rating_submitted(submitted, f"e{n}-sub", deps=world.deps)
    await scores.project_rating_submitted(submitted, f"e{n}-sub", deps=world.deps)  # redelivery


async def test_small_samples_do_not_top_the_calibrated_table() -> None:
    world = in_memory(anonymity_threshold=2, score_prior_weight=5)
    # IT: two perfect ratings. HR: eight averaging 4.875. Legal: ten threes.
    await rate(world, 1, "it", "ana", 5)
    await rate(world, 2, "it", "cy", 5)
    for n, stars in enumerate([5, 5, 5, 5, 5, 5, 5, 4], start=10):
        await rate(world, n, "hr", f"p{n}", stars)
    for n in range(30, 40):
        await rate(world, n, "legal", f"p{n}", 3)
    mean, table = await scores.score_table(PeriodKind.MONTH, MONTH, member=ROOT, deps=world.deps)
    assert mean == pytest.approx(3.95)  # (10 + 39 + 30) / 20
    # IT's raw 5.0 tops HR's 4.875, but two ratings weigh less than the prior of five.
    assert [s.provider_department_id for s in table] == ["hr", "it", "legal"]
    it = next(s for s in table if s.provider_department_id == "it")
    assert it.average == 5.0
    assert it.calibrated == pytest.approx((5 * 3.95 + 10) / 7, abs=1e-3)
    with pytest.raises(Forbidden):
        await scores.score_table(PeriodKind.MONTH, MONTH, member=IVY, deps=world.deps)


async def test_a_change_moves_the_sum_and_the_distribution_once() -> None:
    world = in_memory(anonymity_threshold=2)
    await rate(world, 1, "it", "ana", 5)
    await rate(world, 2, "it", "cy", 2)
    changed = RatingChanged(
        request_id="r1",
        rater_id="ana",
        rater_department_id="sales",
        provider_department_id="it",
        stars=2,
        previous_stars=5,
        changed_at=T0 + timedelta(hours=2),
        requested_at=T0,
    )
    await scores.project_rating_changed(changed, "e1-chg", deps=world.deps)
    await scores.project_rating_changed(changed, "e1-chg", deps=world.deps)
    own, [pair] = await scores.department_scores(
        "it", PeriodKind.MONTH, MONTH, member=IVY, deps=world.deps
    )
    assert (own.ratings, own.average) == (2, 2.0)
    assert own.distribution == {"1": 0, "2": 2, "3": 0, "4": 0, "5": 0}
    assert (pair.consumer_department_id, pair.average) == ("sales", 2.0)


async def test_department_scores_are_for_its_people_and_admins_in_a_valid_period() -> None:
    world = in_memory()
    await rate(world, 1, "it", "ana", 4)
    with pytest.raises(Forbidden):
        await scores.department_scores("it", PeriodKind.MONTH, MONTH, member=HAL, deps=world.deps)
    with pytest.raises(InvalidInput):
        await scores.department_scores("it", PeriodKind.WEEK, MONTH, member=IVY, deps=world.deps)
    with pytest.raises(NotFound):
        await scores.department_scores(
            "it", PeriodKind.MONTH, "2020-01", member=IVY, deps=world.deps
        )
    own, _ = await scores.department_scores(
        "it", PeriodKind.QUARTER, "2026-Q4", member=IVY, deps=world.deps
    )
    assert (own.ratings, own.shown, own.average) == (1, False, None)  # below five raters


async def test_a_due_cell_publishes_its_numbers_once() -> None:
    world = in_memory(anonymity_threshold=2)
    await rate(world, 1, "it", "ana", 4)
    await rate(world, 2, "it", "cy", 2)
    sid = f"month|{MONTH}|it|*"
    assert await scores.publish_score_when_due(sid, T0, deps=world.deps)
    [event] = world.outbox.take()
    assert isinstance(event, DepartmentScoreUpdated)
    assert (event.ratings, event.average, event.invitations) == (2, 3.0, 2)
    assert not await scores.publish_score_when_due("nothing", T0, deps=world.deps)


async def test_a_hidden_pairs_nps_cannot_be_recovered_from_the_department_and_shown_pairs() -> None:
    # IT's campaign NPS: five Sales respondents and one from HR. The department (six) and the
    # Sales pair (five) are each above the threshold, but 6 x IT's NPS - 5 x Sales's would
    # give away whether the one HR person is a promoter, passive or detractor.
    from icr.contracts.feedback import EvaluationSubmitted

    world = in_memory(anonymity_threshold=5)
    answers = [("sales", 10)] * 5 + [("hr", 0)]
    for n, (dept, score) in enumerate(answers):
        event = EvaluationSubmitted(
            evaluation_id=f"ev{n}",
            campaign_id="c",
            provider_department_id="it",
            respondent_department_id=dept,
            period_start=T0,
            scores={"nps": score},
            nps_score=score,
            submitted_at=T0,
        )
        await scores.project_evaluation(event, f"ev{n}", deps=world.deps)
    own, pairs = await scores.department_scores(
        "it", PeriodKind.MONTH, MONTH, member=ROOT, deps=world.deps
    )
    assert (own.nps, own.nps_respondents) == (pytest.approx(66.7), 6)
    by_consumer = {p.consumer_department_id: p for p in pairs}
    assert by_consumer["hr"].nps is None
    assert by_consumer["sales"].nps is None  # hidden with it: the remainder would be one person
