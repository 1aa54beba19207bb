"""Ledger entries: append-only, each from one source event and one rule, keyed by both.

An entry's id is its unique key, `<source event id>:<rule id>:<account>`: whatever redelivers or
replays the source event computes the same id, and the ledger refuses the second insert. A
correction is a new entry (a revoking one), never a change or a deletion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from icr.incentives.domain.periods import periods_of

DEPARTMENT_PREFIX = "dept:"
PEOPLE, DEPARTMENTS = "people", "departments"


class Kind(StrEnum):
    AWARD = "award"  # the points policy paid it
    REVOKE = "revoke"  # takes an award back (negative)
    RECOGNITION = "recognition"  # a colleague gave it from their allowance
    DEBIT = "debit"  # a redemption spent it (negative)
    REFUND = "refund"  # a cancelled redemption gave it back


EARNING = frozenset({Kind.AWARD, Kind.REVOKE, Kind.RECOGNITION})
"""Kinds that count on leaderboards: what was earned, not what was spent."""


def department_account(department_id: str) -> str:
    return f"{DEPARTMENT_PREFIX}{department_id}"


def is_department(account: str) -> bool:
    return account.startswith(DEPARTMENT_PREFIX)


def entry_id(source_event_id: str, rule_id: str, account: str) -> str:
    return f"{source_event_id}:{rule_id}:{account}"


@dataclass(frozen=True)
class Entry:
    account: str
    department_id: str
    amount: int
    kind: Kind
    reason: str
    source_event_id: str
    rule_id: str
    policy_version: int
    at: datetime
    request_id: str | None = None
    round: int = 0
    trigger: str = ""
    """What the rule reacted to: resolution, rating_given, recognition, redemption."""
    revokes: str | None = None
    hold_id: str | None = None
    """A redemption's debit settles the points its hold reserved."""
    pair: str | None = None
    """`<requester department>><provider department>` of request-derived awards (caps)."""
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(
                self, "id", entry_id(self.source_event_id, self.rule_id, self.account)
            )

    @property
    def earning(self) -> bool:
        return self.kind in EARNING

    def board_lines(self) -> list[tuple[str, str, str]]:
        """(board, period, subject) of every leaderboard line this entry counts in: its
        person's and its department's, by month, quarter and all time (earning kinds only)."""
        if not self.earning:
            return []
        out = []
        for period in periods_of(self.at):
            if not is_department(self.account):
                out.append((PEOPLE, period, self.account))
            out.append((DEPARTMENTS, period, self.department_id))
        return out

    def revoked_by(self, cause_event_id: str, *, reason: str, at: datetime) -> Entry:
        """The entry that cancels this one, caused by `cause_event_id`.

        Its key is the award's own (its source event, `revoke.<rule>`, its account), not the
        cause's: an award can be revoked once, ever, whatever revokes it (a reopen and a
        recovery handled at once by two consumer members each find it unrevoked; the ledger's
        unique key refuses the second). The cause is named in the reason."""
        return Entry(
            account=self.account,
            department_id=self.department_id,
            amount=-self.amount,
            kind=Kind.REVOKE,
            reason=f"{reason} ({cause_event_id})" if cause_event_id else reason,
            source_event_id=self.source_event_id,
            rule_id=f"revoke.{self.rule_id}",
            policy_version=self.policy_version,
            at=at,
            request_id=self.request_id,
            round=self.round,
            trigger=self.trigger,
            revokes=self.id,
        )
