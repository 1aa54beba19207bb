"""The points policy: versioned rules that map facts about a request to awards.

A policy version applies to facts from its `effective_from` on and never to earlier ones: the
version that decides an award is the one in effect when the deciding fact happened (the
resolution for resolution rules, the rating for the rater's award), whenever it is processed.

The policy language, as stored and as the API takes it:
- a rule: `{id, on, pays, points, when}` where `on` is `resolution` (settled once the rating is
  in, expired or skipped) or `rating_given`; `pays` is `assignee`, `provider_department` or
  `rater`; `when` holds conditions that must all hold: `sla_met`, `first_response_met`
  (booleans) and `min_stars` (1 to 5; no rating fails it);
- caps: `pair_cap_per_month`, the most request-derived points paid per month for requests of one
  department to another (against collusion);
- recognition: allowance by role per month, message length, company values, per giver and
  recipient cap per month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from icr.incentives.domain.errors import FieldError, InvalidInput


class Trigger(StrEnum):
    RESOLUTION = "resolution"
    RATING_GIVEN = "rating_given"


class Payee(StrEnum):
    ASSIGNEE = "assignee"
    PROVIDER_DEPARTMENT = "provider_department"
    RATER = "rater"


_PAYEES = {
    Trigger.RESOLUTION: {Payee.ASSIGNEE, Payee.PROVIDER_DEPARTMENT},
    Trigger.RATING_GIVEN: {Payee.RATER},
}


@dataclass(frozen=True)
class Conditions:
    sla_met: bool | None = None
    first_response_met: bool | None = None
    min_stars: int | None = None

    def hold(self, *, sla_met: bool, first_response_met: bool, stars: int | None) -> bool:
        if self.sla_met is not None and self.sla_met != sla_met:
            return False
        if self.first_response_met is not None and self.first_response_met != first_response_met:
            return False
        return self.min_stars is None or (stars is not None and stars >= self.min_stars)


@dataclass(frozen=True)
class Rule:
    id: str
    on: Trigger
    pays: Payee
    points: int
    when: Conditions = Conditions()


@dataclass(frozen=True)
class RecognitionTerms:
    allowance_by_role: dict[str, int]
    min_message_length: int
    values: tuple[str, ...]
    per_recipient_cap_per_month: int

    def allowance_for(self, roles: frozenset[str]) -> int:
        """The largest allowance of the person's roles (0 for roles the policy does not list)."""
        return max((self.allowance_by_role.get(r, 0) for r in roles), default=0)


@dataclass(frozen=True)
class Policy:
    version: int
    effective_from: datetime
    rules: tuple[Rule, ...]
    recognition: RecognitionTerms
    pair_cap_per_month: int | None = None
    published_by: str = ""
    published_at: datetime | None = None
    notes: str = ""

    def rules_on(self, trigger: Trigger) -> list[Rule]:
        return [r for r in self.rules if r.on == trigger]

    def check(self) -> None:
        """Refuses a policy that could not be applied as written."""
        errors: list[FieldError] = []
        seen: set[str] = set()
        for n, rule in enumerate(self.rules):
            where = f"rules[{n}]"
            if rule.id in seen:
                errors.append(FieldError(f"{where}.id", "duplicate", f"{rule.id!r} is used twice"))
            seen.add(rule.id)
            if rule.pays not in _PAYEES[rule.on]:
                allowed = sorted(_PAYEES[rule.on])
                errors.append(
                    FieldError(
                        f"{where}.pays", "invalid", f"a {rule.on} rule pays one of {allowed}"
                    )
                )
            if rule.on == Trigger.RATING_GIVEN and rule.when != Conditions():
                errors.append(
                    FieldError(f"{where}.when", "invalid", "a rating_given rule has no conditions")
                )
        terms = self.recognition
        if not terms.values:
            errors.append(FieldError("recognition.values", "empty", "name at least one value"))
        if errors:
            raise InvalidInput(errors)


DEFAULT_VALUES = ("customer_first", "ownership", "teamwork", "integrity", "innovation")

DEFAULT_POLICY = Policy(
    version=0,
    effective_from=datetime(1970, 1, 1, tzinfo=UTC),
    rules=(
        Rule(
            "agent-sla-rated",
            Trigger.RESOLUTION,
            Payee.ASSIGNEE,
            10,
            Conditions(sla_met=True, min_stars=4),
        ),
        Rule(
            "team-share",
            Trigger.RESOLUTION,
            Payee.PROVIDER_DEPARTMENT,
            3,
            Conditions(sla_met=True, min_stars=4),
        ),
        Rule("rater-feedback", Trigger.RATING_GIVEN, Payee.RATER, 1),
    ),
    recognition=RecognitionTerms(
        allowance_by_role={"employee": 100, "agent": 100, "manager": 200, "admin": 100},
        min_message_length=20,
        values=DEFAULT_VALUES,
        per_recipient_cap_per_month=50,
    ),
    pair_cap_per_month=500,
    notes="built in: in effect until an admin publishes version 1",
)


def check_effective_from(effective_from: datetime, *, now: datetime, latest: Policy) -> None:
    """A new version starts now or later, and not before the latest one: never retroactive."""
    if effective_from.tzinfo is None:
        raise InvalidInput.one("effective_from", "naive", "must include a time zone offset")
    if effective_from < now:
        raise InvalidInput.one(
            "effective_from", "retroactive", "a policy applies from now on, never to the past"
        )
    if effective_from < latest.effective_from:
        raise InvalidInput.one(
            "effective_from",
            "before_latest",
            f"version {latest.version} starts at {latest.effective_from.isoformat()}; "
            "a newer version cannot start before it",
        )
