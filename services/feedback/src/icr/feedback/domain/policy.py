"""Who is asked to rate: eligibility, sampling and the fatigue cap, as pure rules.

Order of the checks (each skipped invitation names the first that failed):
1. same_department: nobody rates their own department;
2. sampled_out: with a sampling rate below 1, a request is asked about only if a hash of its id
   falls below the rate, so a replay or a second replica decides exactly the same;
3. fatigue_cap: at most `cap` invitations per person per cap period, across all surveys (the
   counter lives in the store; `CapDecision` is what it answers).
Sampling comes before the cap so requests that would not be asked anyway use none of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from icr.kit.periods import PeriodKind

DIMENSIONS = frozenset({"responsiveness", "quality", "communication"})


class SkipReason(StrEnum):
    SAME_DEPARTMENT = "same_department"
    SAMPLED_OUT = "sampled_out"
    FATIGUE_CAP = "fatigue_cap"
    ALREADY_RATED = "already_rated"


@dataclass(frozen=True)
class FeedbackPolicy:
    invitation_cap: int = 4
    cap_period: PeriodKind = PeriodKind.MONTH
    sample_rate: float = 1.0
    expiry: timedelta = timedelta(days=7)
    reminder_before: timedelta = timedelta(days=2)
    change_window: timedelta = timedelta(hours=24)
    comment_max: int = 1000
    recovery_at_or_below: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.sample_rate <= 1:
            raise ValueError("sample_rate must be within 0 and 1")
        if self.reminder_before >= self.expiry:
            raise ValueError("the reminder must come before the invitation expires")


def sampled_in(request_id: str, rate: float) -> bool:
    """Whether sampling asks about this request: a stable hash of its id against the rate."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def pre_cap_skip(
    *, request_id: str, requester_department_id: str, provider_department_id: str, rate: float
) -> SkipReason | None:
    """The reason not to invite before the cap is consulted, or None to go on to the cap."""
    if requester_department_id == provider_department_id:
        return SkipReason.SAME_DEPARTMENT
    if not sampled_in(request_id, rate):
        return SkipReason.SAMPLED_OUT
    return None
