"""Pure rules: eligibility, sampling, calibration, NPS, thresholds and periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from icr.contracts.feedback import Question
from icr.feedback.domain.campaign import Answer, Campaign, results_of
from icr.feedback.domain.errors import InvalidInput
from icr.feedback.domain.policy import SkipReason, pre_cap_skip, sampled_in
from icr.feedback.domain.scores import Cell, calibrated, nps, score_of
from icr.kit.periods import PeriodKind, bounds, period_key

T = datetime(2026, 11, 10, tzinfo=UTC)


def test_nobody_is_asked_to_rate_their_own_department() -> None:
    reason = pre_cap_skip(
        request_id="r", requester_department_id="it", provider_department_id="it", rate=1.0
    )
    assert reason is SkipReason.SAME_DEPARTMENT


def test_sampling_is_decided_by_the_request_id_alone() -> None:
    ids = [f"req-{n}" for n in range(2000)]
    first = [sampled_in(i, 0.3) for i in ids]
    assert first == [sampled_in(i, 0.3) for i in ids]  # a replay decides the same
    assert 0.25 < sum(first) / len(ids) < 0.35
    assert all(sampled_in(i, 1.0) for i in ids)
    assert not any(sampled_in(i, 0.0) for i in ids)


def test_sampled_out_is_the_reason_when_the_hash_misses() -> None:
    missed = next(f"r{n}" for n in range(100) if not sampled_in(f"r{n}", 0.5))
    reason = pre_cap_skip(
        request_id=missed, requester_department_id="sales", provider_department_id="it", rate=0.5
    )
    assert reason is SkipReason.SAMPLED_OUT


def test_calibration_pulls_a_small_sample_toward_the_organisation_mean() -> None:
    # Two five-star ratings against an organisation at 3.8 with weight 5: (19 + 10) / 7.
    small = calibrated(stars_sum=10, count=2, prior_mean=3.8, weight=5)
    large = calibrated(stars_sum=172, count=40, prior_mean=3.8, weight=5)
    assert small == pytest.approx(4.143, abs=1e-3)
    assert large is not None
    assert small is not None
    assert large > small
    assert calibrated(stars_sum=10, count=2, prior_mean=None, weight=5) == 5.0
    assert calibrated(stars_sum=0, count=0, prior_mean=3.8, weight=5) is None


def test_net_promoter_score_is_promoters_minus_detractors_in_percent() -> None:
    assert nps([10, 9, 8, 7, 6]) == 20.0
    assert nps([0, 1]) == -100.0
    assert nps([]) is None


def test_scores_below_the_threshold_of_distinct_raters_hide_their_numbers() -> None:
    cell = Cell(invitations=4, ratings=4, stars_sum=12, distinct_raters=4, distribution={"3": 4})
    hidden = score_of(
        cell,
        provider="it",
        consumer=None,
        period="month",
        key="2026-11",
        org_mean=3.0,
        weight=5,
        threshold=5,
    )
    assert (hidden.shown, hidden.average, hidden.calibrated, hidden.distribution) == (
        False,
        None,
        None,
        {},
    )
    shown = score_of(
        cell,
        provider="it",
        consumer=None,
        period="month",
        key="2026-11",
        org_mean=3.0,
        weight=5,
        threshold=4,
    )
    assert (shown.shown, shown.average, shown.response_rate) == (True, 3.0, 1.0)


def _campaign(threshold: int = 3) -> Campaign:
    return Campaign.open(
        campaign_id="c",
        name="Q4",
        period_start=T,
        period_end=T.replace(month=12),
        questions=[
            Question(question_id="q", kind="scale", text={"en": "Quality?"}),
            Question(question_id="nps", kind="nps", text={"en": "Recommend?"}),
            Question(question_id="say", kind="text", text={"en": "Anything?"}),
        ],
        threshold=threshold,
        by="root",
        at=T,
    )


def _answer(dept: str, consumer: str, q: int, rec: int) -> Answer:
    return Answer("c", dept, consumer, {"q": q, "nps": rec}, {}, T)


def test_campaign_results_only_for_groups_at_or_above_the_threshold() -> None:
    answers = [
        _answer("it", "sales", 4, 10),
        _answer("it", "sales", 2, 9),
        _answer("it", "hr", 3, 3),
        _answer("hr", "sales", 5, 10),
    ]
    groups = results_of(_campaign(threshold=3), answers)
    # IT has three respondents: shown; its pairs (2 and 1) and HR (1) are not.
    assert [(g.provider_department_id, g.consumer_department_id) for g in groups] == [("it", None)]
    assert groups[0].averages == {"q": 3.0}
    assert groups[0].nps == pytest.approx(33.3)


def test_campaign_answers_are_checked_against_the_questionnaire() -> None:
    campaign = _campaign()
    with pytest.raises(InvalidInput) as bad:
        campaign.clean_answers({"q": 6, "nps": 11, "zzz": 1}, {"say": "x" * 3000})
    fields = {e.field for e in bad.value.errors}
    assert fields == {"answers.q", "answers.nps", "answers.zzz", "answers.say"}
    assert campaign.clean_answers({"q": 5, "nps": 0}, {"say": " fine "}) == (
        {"q": 5, "nps": 0},
        {"say": "fine"},
    )


def test_periods_have_stable_keys_and_half_open_bounds() -> None:
    at = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert period_key(PeriodKind.WEEK, at) == "2026-W53"
    assert period_key(PeriodKind.MONTH, at) == "2026-12"
    assert period_key(PeriodKind.QUARTER, at) == "2026-Q4"
    start, end = bounds(PeriodKind.QUARTER, "2026-Q4")
    assert (start, end) == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert bounds(PeriodKind.MONTH, "2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a month"):
        bounds(PeriodKind.MONTH, "2026-13")


def test_a_reminder_not_before_expiry_is_refused_at_start() -> None:
    from pydantic import ValidationError

    from icr.feedback.settings import FeedbackSettings

    with pytest.raises(ValidationError, match="reminder"):
        FeedbackSettings(rating_expiry_hours=2, rating_reminder_before_hours=2)


def _differenced(groups: list, provider: str) -> int:
    """Respondents of `provider` no shown pair accounts for: what subtracting the shown pairs
    from the department's total would reveal."""
    total = next(
        g.respondents
        for g in groups
        if g.provider_department_id == provider and g.consumer_department_id is None
    )
    paired = sum(
        g.respondents
        for g in groups
        if g.provider_department_id == provider and g.consumer_department_id is not None
    )
    return total - paired


def test_a_hidden_pair_cannot_be_recovered_by_differencing_the_department() -> None:
    # IT: three from Sales (a pair above the threshold) and one from HR (hidden). Showing IT's
    # total and the Sales pair would give away the HR person's answers by subtraction.
    answers = [
        _answer("it", "sales", 4, 10),
        _answer("it", "sales", 4, 9),
        _answer("it", "sales", 4, 8),
        _answer("it", "hr", 1, 0),
    ]
    groups = results_of(_campaign(threshold=3), answers)
    shown = [(g.provider_department_id, g.consumer_department_id) for g in groups]
    assert shown == [("it", None)]  # the Sales pair is suppressed along with HR's


def test_pairs_stay_shown_when_what_they_leave_out_is_itself_above_the_threshold() -> None:
    answers = [_answer("it", "sales", 4, 10)] * 3 + [_answer("it", "hr", 2, 5)] * 2
    answers += [_answer("it", "ops", 3, 7)] * 1
    groups = results_of(_campaign(threshold=3), answers)
    shown = [(g.provider_department_id, g.consumer_department_id) for g in groups]
    # HR (2) and Ops (1) are hidden, but together they are 3: differencing gives a group of 3.
    assert shown == [("it", None), ("it", "sales")]
    assert _differenced(groups, "it") == 3
