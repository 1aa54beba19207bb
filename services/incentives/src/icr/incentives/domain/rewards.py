"""The reward catalog and redemptions.

A redemption reserves the person's points (a hold on their account, taken only while the
available balance covers it) and one unit of stock (taken only while stock is left), then spends
the points with a ledger debit; an admin fulfils it, or cancels it, which refunds the points with
a ledger entry and puts the unit back. Each step is idempotent by the redemption's id, so the
durable timer can finish a redemption a crash interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from icr.contracts import Event
from icr.contracts.incentives import RedemptionCancelled, RedemptionFulfilled, RewardRedeemed
from icr.incentives.domain.errors import Conflict
from icr.incentives.domain.ledger import Entry, Kind


@dataclass
class Reward:
    reward_id: str
    name: dict[str, str]
    cost: int
    stock: int
    active: bool = True
    description: dict[str, str] = field(default_factory=dict)


class State(StrEnum):
    PENDING = "pending"  # reserving points and stock
    RESERVED = "reserved"  # points spent, unit held: waits for an admin
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # could not reserve; nothing is held


@dataclass
class Redemption:
    redemption_id: str
    person_id: str
    department_id: str
    reward_id: str
    cost: int
    state: State
    requested_at: datetime
    reason: str = ""
    settled: bool = False
    """Stock hold released (fulfilled or cancelled) and refund written (cancelled)."""
    decided_by: str = ""
    decided_at: datetime | None = None
    events: list[Event] = field(default_factory=list)

    def debit(self) -> Entry:
        return Entry(
            account=self.person_id,
            department_id=self.department_id,
            amount=-self.cost,
            kind=Kind.DEBIT,
            reason=f"redeemed reward {self.reward_id}",
            source_event_id=f"redemption-{self.redemption_id}",
            rule_id="redeem",
            policy_version=0,
            at=self.requested_at,
            trigger="redemption",
            hold_id=self.redemption_id,
        )

    def refund(self) -> Entry:
        assert self.decided_at is not None
        return Entry(
            account=self.person_id,
            department_id=self.department_id,
            amount=self.cost,
            kind=Kind.REFUND,
            reason=f"redemption of {self.reward_id} cancelled",
            source_event_id=f"redemption-{self.redemption_id}",
            rule_id="refund",
            policy_version=0,
            at=self.decided_at,
            trigger="redemption",
        )

    def reserved(self) -> None:
        if self.state != State.PENDING:
            return
        self.state = State.RESERVED
        self.events.append(RewardRedeemed(**self._ids(), requested_at=self.requested_at))

    def rejected(self, reason: str) -> None:
        self.state = State.REJECTED
        self.reason = reason
        self.settled = True

    def fulfil(self, *, by: str, at: datetime) -> None:
        self._check_reserved("fulfil")
        self.state, self.decided_by, self.decided_at = State.FULFILLED, by, at
        self.events.append(RedemptionFulfilled(**self._ids(), fulfilled_by=by, fulfilled_at=at))

    def cancel(self, *, by: str, at: datetime, reason: str) -> None:
        self._check_reserved("cancel")
        self.state, self.decided_by, self.decided_at = State.CANCELLED, by, at
        self.reason = reason
        self.events.append(
            RedemptionCancelled(**self._ids(), cancelled_by=by, cancelled_at=at, reason=reason)
        )

    def _check_reserved(self, action: str) -> None:
        if self.state != State.RESERVED:
            raise Conflict(f"cannot {action} a redemption that is {self.state}")

    def _ids(self) -> dict[str, str | int]:
        return {
            "redemption_id": self.redemption_id,
            "person_id": self.person_id,
            "reward_id": self.reward_id,
            "cost": self.cost,
        }
