"""What-if: a proposed policy run over a past period's stored facts, next to what was paid.

Pure arithmetic over the facts the service already keeps (each request's resolution and rating
outcome): nothing is written, no event is published. The proposal is applied as if it had been
in effect for the whole period, caps included, in the order the requests were resolved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from icr.incentives.domain.ledger import Entry, is_department
from icr.incentives.domain.policy import Policy
from icr.incentives.domain.settlement import (
    RequestFacts,
    as_timed_out,
    cap_key,
    rater_awards,
    resolution_awards,
)


@dataclass
class Totals:
    people: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    departments: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, entry: Entry) -> None:
        if not is_department(entry.account):
            self.people[entry.account] += entry.amount
        self.departments[entry.department_id] += entry.amount

    @property
    def total(self) -> int:
        return sum(self.departments.values())


@dataclass(frozen=True)
class Line:
    subject_id: str
    awarded: int
    proposed: int

    @property
    def difference(self) -> int:
        return self.proposed - self.awarded


@dataclass(frozen=True)
class Report:
    requests: int
    people: list[Line]
    departments: list[Line]
    awarded_total: int
    proposed_total: int


def proposed_entries(facts: Iterable[RequestFacts], policy: Policy) -> list[Entry]:
    """The request-derived entries `policy` would have made for these settled facts."""
    out: list[Entry] = []
    used: dict[str, int] = defaultdict(int)
    resolved = [f for f in facts if f.resolution is not None]
    for f in sorted(resolved, key=_resolved_at):
        assert f.resolution is not None
        settled = f if f.rating is not None else as_timed_out(f, f.resolution.resolved_at)
        for entry in resolution_awards(settled, policy):
            key = cap_key(entry)
            cap = policy.pair_cap_per_month
            if key is not None and cap is not None:
                if used[key] + entry.amount > cap:
                    continue
                used[key] += entry.amount
            out.append(entry)
        rating = f.rating
        if rating is not None and rating.outcome == "submitted":
            out += rater_awards(
                request_id=f.request_id,
                rater_id=f.requester_id,
                rater_department_id=f.requester_department_id,
                provider_department_id=f.provider_department_id,
                assignee_id=f.resolution.assignee_id,
                event_id=rating.event_id,
                at=rating.at,
                policy=policy,
            )
    return out


def _resolved_at(facts: RequestFacts) -> datetime:
    assert facts.resolution is not None
    return facts.resolution.resolved_at


def compare(facts: list[RequestFacts], policy: Policy, awarded: Iterable[Entry]) -> Report:
    """Per person and department: what was awarded (net of revocations) and what `policy`
    would have awarded for the same facts."""
    actual, proposed = Totals(), Totals()
    for entry in awarded:
        actual.add(entry)
    for entry in proposed_entries(facts, policy):
        proposed.add(entry)

    def lines(a: dict[str, int], p: dict[str, int]) -> list[Line]:
        keys = sorted(set(a) | set(p))
        return [Line(k, a.get(k, 0), p.get(k, 0)) for k in keys]

    return Report(
        requests=len(facts),
        people=lines(actual.people, proposed.people),
        departments=lines(actual.departments, proposed.departments),
        awarded_total=actual.total,
        proposed_total=proposed.total,
    )
