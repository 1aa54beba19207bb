"""Events published by the incentives service (points ledger, recognition, rewards, policy).

Every ledger entry is its own aggregate (keyed by the entry id, which is the entry's unique key
`<source event id>:<rule id>:<account>`), so a consumer can count each entry once by its id.
Accounts are person ids, or `dept:<department id>` for a department's share.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from icr.contracts.base import Event
from icr.contracts.registry import registry
from icr.contracts.topics import LEADERBOARD, LEDGER, POLICY, RECOGNITION, REDEMPTIONS, Topic


class LedgerEvent(Event):
    topic: ClassVar[Topic] = LEDGER
    aggregate_field: ClassVar[str] = "entry_id"

    entry_id: str
    account: str
    department_id: str
    amount: int
    reason: str
    source_event_id: str
    rule_id: str
    policy_version: int
    request_id: str | None = None
    at: datetime


class PointsAwarded(LedgerEvent):
    """Points were credited to an account: an award of the points policy or a recognition."""

    event_type: ClassVar[str] = "incentives.points.awarded"


class PointsRevoked(LedgerEvent):
    """Points were taken back by a revoking entry (`amount` is negative; `revokes` names the
    entry it cancels): a reopened request, or a rating that needed recovery."""

    event_type: ClassVar[str] = "incentives.points.revoked"

    revokes: str


class RecognitionGiven(Event):
    """A person gave points from their monthly allowance to a colleague, with a message and one
    of the company values."""

    event_type: ClassVar[str] = "incentives.recognition.given"
    topic: ClassVar[Topic] = RECOGNITION
    aggregate_field: ClassVar[str] = "allowance_id"

    allowance_id: str
    recognition_id: str
    giver_id: str
    giver_department_id: str
    recipient_id: str
    recipient_department_id: str
    points: int
    message: str
    value: str
    given_at: datetime


class AllowanceReset(Event):
    """A person's giving allowance for a month started (it does not roll over)."""

    event_type: ClassVar[str] = "incentives.allowance.reset"
    topic: ClassVar[Topic] = RECOGNITION
    aggregate_field: ClassVar[str] = "allowance_id"

    allowance_id: str
    person_id: str
    month: str
    allowance: int
    reset_at: datetime


class RedemptionEvent(Event):
    topic: ClassVar[Topic] = REDEMPTIONS
    aggregate_field: ClassVar[str] = "redemption_id"

    redemption_id: str
    person_id: str
    reward_id: str
    cost: int


class RewardRedeemed(RedemptionEvent):
    """A redemption reserved its points and one unit of stock; an admin fulfils or cancels it."""

    event_type: ClassVar[str] = "incentives.redemption.requested"

    requested_at: datetime


class RedemptionFulfilled(RedemptionEvent):
    event_type: ClassVar[str] = "incentives.redemption.fulfilled"

    fulfilled_by: str
    fulfilled_at: datetime


class RedemptionCancelled(RedemptionEvent):
    """An admin cancelled the redemption: its points are refunded and its stock released."""

    event_type: ClassVar[str] = "incentives.redemption.cancelled"

    cancelled_by: str
    cancelled_at: datetime
    reason: str = ""


class PolicyPublished(Event):
    """A new version of the points policy; it applies to facts from `effective_from` on."""

    event_type: ClassVar[str] = "incentives.policy.published"
    topic: ClassVar[Topic] = POLICY
    aggregate_field: ClassVar[str] = "policy_id"

    policy_id: str
    version: int
    effective_from: datetime
    rule_ids: list[str]
    published_by: str
    published_at: datetime


class BoardLine(BaseModel):
    """One line of a leaderboard: `board` is "people" or "departments", `period` a month
    ("2026-12"), a quarter ("2026-Q4") or "all"."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    board: str
    period: str
    subject_id: str


class LeaderboardChanged(Event):
    """A ledger entry moved leaderboard lines by `points` (negative for a revocation): every
    line it counts in, people and departments, by month, quarter and all time. Published with
    the entry, once per entry; a live view adds `points` to each line it shows (or re-reads)."""

    event_type: ClassVar[str] = "incentives.leaderboard.changed"
    topic: ClassVar[Topic] = LEADERBOARD
    aggregate_field: ClassVar[str] = "entry_id"

    entry_id: str
    lines: list[BoardLine]
    points: int
    changed_at: datetime


registry.register(
    PointsAwarded,
    PointsRevoked,
    RecognitionGiven,
    AllowanceReset,
    RewardRedeemed,
    RedemptionFulfilled,
    RedemptionCancelled,
    PolicyPublished,
    LeaderboardChanged,
)
