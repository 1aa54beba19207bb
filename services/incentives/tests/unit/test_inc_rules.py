"""The points policy's rules and guards, on the domain alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from icr.incentives.domain.errors import InvalidInput
from icr.incentives.domain.ledger import Kind
from icr.incentives.domain.periods import is_period, month_of, periods_of, quarter_of
from icr.incentives.domain.policy import (
    DEFAULT_POLICY,
    Conditions,
    Payee,
    Rule,
    Trigger,
    check_effective_from,
)
from icr.incentives.domain.settlement import (
    RatingOutcome,
    RequestFacts,
    Resolution,
    rater_awards,
    resolution_awards,
    revocations,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def facts(*, met: bool = True, stars: int | None = 5, assignee: str = "bo") -> RequestFacts:
    f = RequestFacts("r1", "ana", "sales", "it", "resolved", T0)
    f.resolved(Resolution("ev-res", assignee, met, True, T0), round=0, settle_due=T0)
    if stars is not None:
        f.rated(RatingOutcome("submitted", stars, "ev-rate", T0))
    return f


def paid(f: RequestFacts) -> dict[str, int]:
    return {e.account: e.amount for e in resolution_awards(f, DEFAULT_POLICY)}


def test_resolution_in_time_rated_five_pays_the_agent_and_the_team() -> None:
    assert paid(facts()) == {"bo": 10, "dept:it": 3}


def test_entries_are_keyed_by_source_event_rule_and_account() -> None:
    ids = {e.id for e in resolution_awards(facts(), DEFAULT_POLICY)}
    assert ids == {"ev-res:agent-sla-rated:bo", "ev-res:team-share:dept:it"}


def test_a_breached_sla_earns_nothing() -> None:
    assert paid(facts(met=False)) == {}


def test_a_rating_below_four_earns_nothing() -> None:
    assert paid(facts(stars=3)) == {}


def test_no_rating_fails_a_min_stars_condition() -> None:
    assert paid(facts(stars=None)) == {}


def test_a_request_that_needed_recovery_earns_nothing() -> None:
    f = facts()
    f.needs_recovery("ev-rec")
    assert paid(f) == {}


def test_nobody_earns_points_from_their_own_request() -> None:
    assert "ana" not in paid(facts(assignee="ana"))


def test_a_department_serving_itself_earns_no_share() -> None:
    f = facts()
    f.requester_department_id = "it"
    assert paid(f) == {"bo": 10}


def test_rater_earns_for_giving_feedback_but_not_on_own_department() -> None:
    common = dict(
        request_id="r1",
        rater_id="ana",
        provider_department_id="it",
        assignee_id="bo",
        event_id="ev-rate",
        at=T0,
        policy=DEFAULT_POLICY,
    )
    [entry] = rater_awards(rater_department_id="sales", **common)  # type: ignore[arg-type]
    assert (entry.account, entry.amount) == ("ana", 1)
    assert rater_awards(rater_department_id="it", **common) == []  # type: ignore[arg-type]


def test_revocations_negate_resolution_awards_only() -> None:
    awards = resolution_awards(facts(), DEFAULT_POLICY)
    rater = rater_awards(
        request_id="r1",
        rater_id="ana",
        rater_department_id="sales",
        provider_department_id="it",
        assignee_id="bo",
        event_id="ev-rate",
        at=T0,
        policy=DEFAULT_POLICY,
    )
    revoking = revocations(awards + rater, source_event_id="ev-reopen", reason="reopened", at=T0)
    assert sorted((e.account, e.amount, e.kind) for e in revoking) == [
        ("bo", -10, Kind.REVOKE),
        ("dept:it", -3, Kind.REVOKE),
    ]
    assert {e.revokes for e in revoking} == {a.id for a in awards}


def test_a_policy_with_a_payee_its_trigger_cannot_pay_is_refused() -> None:
    bad = replace(DEFAULT_POLICY, rules=(Rule("x", Trigger.RATING_GIVEN, Payee.ASSIGNEE, 1),))
    with pytest.raises(InvalidInput) as refused:
        bad.check()
    assert refused.value.errors[0].field == "rules[0].pays"


def test_a_rule_id_used_twice_is_refused() -> None:
    rule = Rule("x", Trigger.RESOLUTION, Payee.ASSIGNEE, 1, Conditions(sla_met=True))
    with pytest.raises(InvalidInput):
        replace(DEFAULT_POLICY, rules=(rule, rule)).check()


def test_a_policy_never_starts_in_the_past() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_effective_from(T0 - timedelta(seconds=1), now=T0, latest=DEFAULT_POLICY)
    assert refused.value.errors[0].code == "retroactive"
    check_effective_from(T0, now=T0, latest=DEFAULT_POLICY)


def test_periods() -> None:
    at = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert (month_of(at), quarter_of(at)) == ("2026-11", "2026-Q4")
    assert periods_of(at) == ("2026-11", "2026-Q4", "all")
    assert all(map(is_period, ["2026-01", "2026-Q1", "all"]))
    assert not any(map(is_period, ["2026-13", "2026-Q5", "26-01", "x"]))
