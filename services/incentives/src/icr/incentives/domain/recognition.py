"""Recognition: points a person gives a colleague from a monthly allowance.

The allowance is a document per person and month: a new month is a new, full allowance, so it
resets without a job and never rolls over. It is separate from earned points (the ledger), which
never expire. The allowance records each gift with its event in one write, so what was given
and what was published cannot disagree; the recipient's ledger entry is made from that event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from icr.contracts import Event
from icr.contracts.incentives import AllowanceReset, RecognitionGiven
from icr.incentives.domain.errors import (
    AllowanceExceeded,
    CapReached,
    FieldError,
    InvalidInput,
)
from icr.incentives.domain.periods import month_of
from icr.incentives.domain.policy import RecognitionTerms

MAX_MESSAGE = 2000


def allowance_id(person_id: str, month: str) -> str:
    return f"{person_id}:{month}"


@dataclass(frozen=True)
class Gift:
    recognition_id: str
    giver_id: str
    giver_department_id: str
    recipient_id: str
    recipient_department_id: str
    points: int
    message: str
    value: str
    given_at: datetime


@dataclass
class GivingAllowance:
    person_id: str
    month: str
    allowance: int
    given: int = 0
    by_recipient: dict[str, int] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def id(self) -> str:
        return allowance_id(self.person_id, self.month)

    @property
    def left(self) -> int:
        return max(0, self.allowance - self.given)

    @classmethod
    def start(cls, person_id: str, *, allowance: int, at: datetime) -> GivingAllowance:
        month = month_of(at)
        new = cls(person_id, month, allowance)
        new.events.append(
            AllowanceReset(
                allowance_id=new.id,
                person_id=person_id,
                month=month,
                allowance=allowance,
                reset_at=at,
            )
        )
        return new

    def give(self, gift: Gift, terms: RecognitionTerms) -> None:
        check_gift(gift, terms)
        if gift.points > self.left:
            raise AllowanceExceeded(
                f"{gift.points} points asked, {self.left} left of this month's allowance"
            )
        already = self.by_recipient.get(gift.recipient_id, 0)
        cap = terms.per_recipient_cap_per_month
        if already + gift.points > cap:
            raise CapReached(
                f"at most {cap} points a month to one person; {already} given this month"
            )
        self.given += gift.points
        self.by_recipient[gift.recipient_id] = already + gift.points
        self.events.append(
            RecognitionGiven(
                allowance_id=self.id,
                recognition_id=gift.recognition_id,
                giver_id=gift.giver_id,
                giver_department_id=gift.giver_department_id,
                recipient_id=gift.recipient_id,
                recipient_department_id=gift.recipient_department_id,
                points=gift.points,
                message=gift.message,
                value=gift.value,
                given_at=gift.given_at,
            )
        )


def check_gift(gift: Gift, terms: RecognitionTerms) -> None:
    """Bad input is refused before any allowance is touched, each field with its own error."""
    errors = []
    if gift.recipient_id == gift.giver_id:
        errors.append(FieldError("recipient_id", "self", "nobody recognises themselves"))
    if gift.points < 1:
        errors.append(FieldError("points", "too_small", "give at least 1 point"))
    length = len(gift.message.strip())
    if length < terms.min_message_length:
        errors.append(
            FieldError(
                "message",
                "too_short",
                f"say why in at least {terms.min_message_length} characters ({length} given)",
            )
        )
    if length > MAX_MESSAGE:
        errors.append(FieldError("message", "too_long", f"at most {MAX_MESSAGE} characters"))
    if gift.value not in terms.values:
        errors.append(
            FieldError("value", "unknown_value", f"must be one of {sorted(terms.values)}")
        )
    if errors:
        raise InvalidInput(errors)
