"""The per-request projection that waits for every fact a rule needs, and the awards it settles.

Resolution rules need the resolution (from requests) and the rating's outcome (from feedback:
submitted, expired or skipped), which arrive on two topics in either order. The facts of a
request collect both; once the current round (one resolution; a reopen starts the next) has
them, or the rating wait ran out, the round settles once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from icr.incentives.domain.ledger import Entry, Kind, department_account
from icr.incentives.domain.periods import month_of
from icr.incentives.domain.policy import Payee, Policy, Trigger


@dataclass(frozen=True)
class Resolution:
    event_id: str
    assignee_id: str
    resolution_met: bool
    first_response_met: bool
    resolved_at: datetime


@dataclass(frozen=True)
class RatingOutcome:
    outcome: str  # submitted, expired, skipped, timed_out
    stars: int | None
    event_id: str
    at: datetime


@dataclass
class RequestFacts:
    request_id: str
    requester_id: str = ""
    requester_department_id: str = ""
    provider_department_id: str = ""
    status: str = "unknown"
    submitted_at: datetime | None = None
    round: int = 0
    resolution: Resolution | None = None
    rating: RatingOutcome | None = None
    recovery_needed: bool = False
    recovery_event_id: str = ""
    settled_round: int | None = None
    settle_due: datetime | None = None
    """When the round settles without a rating, should feedback never say (a durable timer)."""

    @property
    def settled(self) -> bool:
        return self.settled_round == self.round

    @property
    def ready(self) -> bool:
        return self.resolution is not None and self.rating is not None and not self.settled

    def resolved(self, resolution: Resolution, *, round: int, settle_due: datetime) -> bool:
        """Records the round's resolution; False for one of an older round (stale)."""
        if round < self.round or (round == self.round and self.resolution is not None):
            return False
        if round > self.round:
            self._next_round(round)
        self.resolution = resolution
        self.status = "resolved"
        self.settle_due = None if self.settled else settle_due
        return True

    def rated(self, outcome: RatingOutcome) -> bool:
        """The first outcome of the round counts (a later change does not re-settle)."""
        if self.rating is not None or self.settled:
            return False
        self.rating = outcome
        return True

    def needs_recovery(self, event_id: str) -> bool:
        """True if this changes anything (the round's awards must not stand)."""
        if self.recovery_needed:
            return False
        self.recovery_needed = True
        self.recovery_event_id = event_id
        return True

    def reopened(self, round: int) -> bool:
        if round <= self.round:
            return False
        self._next_round(round)
        self.status = "reopened"
        return True

    def mark_settled(self) -> None:
        self.settled_round = self.round
        self.settle_due = None

    def _next_round(self, round: int) -> None:
        self.round = round
        self.resolution = None
        self.rating = None
        self.recovery_needed = False
        self.recovery_event_id = ""
        self.settle_due = None

    @property
    def pair(self) -> str:
        return f"{self.requester_department_id}>{self.provider_department_id}"


def resolution_awards(facts: RequestFacts, policy: Policy) -> list[Entry]:
    """What the round's resolution earns under `policy`, before caps.

    Nothing when the request needed recovery; nobody earns from their own request (the assignee
    who asked for it, or a department serving itself)."""
    resolution = facts.resolution
    if resolution is None or facts.recovery_needed:
        return []
    stars = facts.rating.stars if facts.rating else None
    out = []
    for rule in policy.rules_on(Trigger.RESOLUTION):
        if not rule.when.hold(
            sla_met=resolution.resolution_met,
            first_response_met=resolution.first_response_met,
            stars=stars,
        ):
            continue
        if rule.pays == Payee.ASSIGNEE:
            if not resolution.assignee_id or resolution.assignee_id == facts.requester_id:
                continue
            account = resolution.assignee_id
        else:
            if facts.provider_department_id == facts.requester_department_id:
                continue
            account = department_account(facts.provider_department_id)
        out.append(
            Entry(
                account=account,
                department_id=facts.provider_department_id,
                amount=rule.points,
                kind=Kind.AWARD,
                reason=f"request {facts.request_id} resolved ({rule.id})",
                source_event_id=resolution.event_id,
                rule_id=rule.id,
                policy_version=policy.version,
                at=resolution.resolved_at,
                request_id=facts.request_id,
                round=facts.round,
                trigger=Trigger.RESOLUTION,
                pair=facts.pair,
            )
        )
    return out


def rater_awards(
    *,
    request_id: str,
    rater_id: str,
    rater_department_id: str,
    provider_department_id: str,
    assignee_id: str | None,
    event_id: str,
    at: datetime,
    policy: Policy,
) -> list[Entry]:
    """What giving a rating earns the rater (never for rating a request one worked on)."""
    if rater_id == assignee_id or rater_department_id == provider_department_id:
        return []
    return [
        Entry(
            account=rater_id,
            department_id=rater_department_id,
            amount=rule.points,
            kind=Kind.AWARD,
            reason=f"rated request {request_id} ({rule.id})",
            source_event_id=event_id,
            rule_id=rule.id,
            policy_version=policy.version,
            at=at,
            request_id=request_id,
            trigger=Trigger.RATING_GIVEN,
        )
        for rule in policy.rules_on(Trigger.RATING_GIVEN)
    ]


def cap_key(entry: Entry) -> str | None:
    """The counter a request-derived award is capped by: its department pair and month."""
    return None if entry.pair is None else f"{month_of(entry.at)}:{entry.pair}"


def revocations(
    awards: list[Entry], *, source_event_id: str, reason: str, at: datetime
) -> list[Entry]:
    """Revoking entries for the resolution awards among `awards` (feedback points stay)."""
    return [
        a.revoked_by(source_event_id, reason=reason, at=at)
        for a in awards
        if a.kind == Kind.AWARD and a.trigger == Trigger.RESOLUTION
    ]


def as_timed_out(facts: RequestFacts, at: datetime) -> RequestFacts:
    """The facts as they settle when the rating wait ran out: no rating will count."""
    return replace(facts, rating=RatingOutcome("timed_out", None, "", at))
