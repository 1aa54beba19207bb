"""What-if: a proposal over stored facts, next to what was awarded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from icr.incentives.domain.policy import DEFAULT_POLICY, Conditions, Payee, Rule, Trigger
from icr.incentives.domain.settlement import (
    RatingOutcome,
    RequestFacts,
    Resolution,
    resolution_awards,
)
from icr.incentives.domain.whatif import compare

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def settled(request_id: str, *, stars: int, met: bool = True) -> RequestFacts:
    f = RequestFacts(request_id, "ana", "sales", "it", "resolved", T0)
    f.resolved(Resolution(f"res-{request_id}", "bo", met, True, T0), round=0, settle_due=T0)
    f.rated(RatingOutcome("submitted", stars, f"rate-{request_id}", T0))
    f.mark_settled()
    return f


def test_a_more_generous_proposal_shows_per_person_and_department() -> None:
    facts = [settled("r1", stars=5), settled("r2", stars=3)]
    awarded = [e for f in facts for e in resolution_awards(f, DEFAULT_POLICY)]
    generous = replace(
        DEFAULT_POLICY,
        rules=(Rule("agent", Trigger.RESOLUTION, Payee.ASSIGNEE, 20, Conditions(sla_met=True)),),
    )
    report = compare(facts, generous, awarded)
    bo = next(line for line in report.people if line.subject_id == "bo")
    assert (bo.awarded, bo.proposed, bo.difference) == (10, 40, 30)
    it = next(line for line in report.departments if line.subject_id == "it")
    assert (it.awarded, it.proposed) == (13, 40)
    assert (report.awarded_total, report.proposed_total) == (13, 40)


def test_the_proposal_applies_its_own_pair_cap() -> None:
    facts = [settled(f"r{n}", stars=5) for n in range(5)]
    capped = replace(DEFAULT_POLICY, pair_cap_per_month=26)
    report = compare(facts, capped, [])
    it = next(line for line in report.departments if line.subject_id == "it")
    assert it.proposed == 26  # two requests' 13 points, then the cap
    assert report.proposed_total == 26 + 5  # the raters' point each is not capped
