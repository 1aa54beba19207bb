"""HTTP shapes (inputs strict: unknown fields refused) and their mapping to domain objects."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from icr.incentives.domain.ledger import Entry
from icr.incentives.domain.policy import (
    Conditions,
    Payee,
    Policy,
    RecognitionTerms,
    Rule,
    Trigger,
)
from icr.incentives.domain.recognition import MAX_MESSAGE, GivingAllowance
from icr.incentives.domain.rewards import Redemption, Reward
from icr.incentives.domain.whatif import Line, Report
from icr.incentives.handlers.ports import Account, BoardLine
from icr.incentives.handlers.reads import Audit, RequestPoints

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Tag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Role = Literal["employee", "agent", "manager", "admin"]
Points = Annotated[int, Field(ge=1, le=100_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- policy ------------------------------------------------------------------------------------


class ConditionsIn(Strict):
    sla_met: bool | None = None
    first_response_met: bool | None = None
    min_stars: int | None = Field(default=None, ge=1, le=5)


class RuleIn(Strict):
    id: Id
    on: Trigger
    pays: Payee
    points: Points
    when: ConditionsIn = ConditionsIn()


class RecognitionTermsIn(Strict):
    allowance_by_role: dict[Role, Annotated[int, Field(ge=0, le=100_000)]]
    min_message_length: int = Field(ge=1, le=500)
    values: list[Tag] = Field(min_length=1, max_length=20)
    per_recipient_cap_per_month: Points


class ProposalIn(Strict):
    rules: list[RuleIn] = Field(max_length=50)
    recognition: RecognitionTermsIn
    pair_cap_per_month: Points | None = None
    notes: str = Field(default="", max_length=1000)

    def to_domain(self, effective_from: datetime) -> Policy:
        terms = self.recognition
        return Policy(
            version=0,
            effective_from=effective_from,
            rules=tuple(
                Rule(r.id, r.on, r.pays, r.points, Conditions(**r.when.model_dump()))
                for r in self.rules
            ),
            recognition=RecognitionTerms(
                allowance_by_role={str(k): v for k, v in terms.allowance_by_role.items()},
                min_message_length=self.recognition.min_message_length,
                values=tuple(self.recognition.values),
                per_recipient_cap_per_month=self.recognition.per_recipient_cap_per_month,
            ),
            pair_cap_per_month=self.pair_cap_per_month,
            notes=self.notes,
        )


class PolicyIn(ProposalIn):
    effective_from: AwareDatetime


class WhatIfIn(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    policy: ProposalIn
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime


class PolicyOut(BaseModel):
    version: int
    effective_from: datetime
    rules: list[RuleIn]
    recognition: RecognitionTermsIn
    pair_cap_per_month: int | None
    published_by: str
    published_at: datetime | None
    notes: str

    @classmethod
    def of(cls, p: Policy) -> PolicyOut:
        terms = p.recognition
        return cls(
            version=p.version,
            effective_from=p.effective_from,
            rules=[
                RuleIn(
                    id=r.id,
                    on=r.on,
                    pays=r.pays,
                    points=r.points,
                    when=ConditionsIn(**vars(r.when)),
                )
                for r in p.rules
            ],
            recognition=RecognitionTermsIn.model_validate(
                {
                    "allowance_by_role": terms.allowance_by_role,
                    "min_message_length": terms.min_message_length,
                    "values": list(terms.values),
                    "per_recipient_cap_per_month": terms.per_recipient_cap_per_month,
                }
            ),
            pair_cap_per_month=p.pair_cap_per_month,
            published_by=p.published_by,
            published_at=p.published_at,
            notes=p.notes,
        )


class LineOut(BaseModel):
    id: str
    awarded: int
    proposed: int
    difference: int

    @classmethod
    def of(cls, line: Line) -> LineOut:
        return cls(
            id=line.subject_id,
            awarded=line.awarded,
            proposed=line.proposed,
            difference=line.difference,
        )


class WhatIfOut(BaseModel):
    requests: int
    awarded_total: int
    proposed_total: int
    people: list[LineOut]
    departments: list[LineOut]

    @classmethod
    def of(cls, r: Report) -> WhatIfOut:
        return cls(
            requests=r.requests,
            awarded_total=r.awarded_total,
            proposed_total=r.proposed_total,
            people=[LineOut.of(line) for line in r.people],
            departments=[LineOut.of(line) for line in r.departments],
        )


# --- points ------------------------------------------------------------------------------------


class AccountOut(BaseModel):
    account: str
    department_id: str
    balance: int
    available: int
    reserved: int
    earned: int

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(
            account=a.account,
            department_id=a.department_id,
            balance=a.balance,
            available=a.available,
            reserved=a.reserved,
            earned=a.earned,
        )


class DepartmentOut(BaseModel):
    department: AccountOut
    members: list[AccountOut]


class EntryOut(BaseModel):
    id: str
    account: str
    amount: int
    kind: str
    reason: str
    source_event_id: str
    rule_id: str
    policy_version: int
    at: datetime
    request_id: str | None
    revokes: str | None

    @classmethod
    def of(cls, e: Entry) -> EntryOut:
        return cls(
            id=e.id,
            account=e.account,
            amount=e.amount,
            kind=str(e.kind),
            reason=e.reason,
            source_event_id=e.source_event_id,
            rule_id=e.rule_id,
            policy_version=e.policy_version,
            at=e.at,
            request_id=e.request_id,
            revokes=e.revokes,
        )


class EntryPageOut(BaseModel):
    entries: list[EntryOut]
    next_cursor: str | None


class AllowanceOut(BaseModel):
    person_id: str
    month: str
    allowance: int
    given: int
    left: int

    @classmethod
    def of(cls, a: GivingAllowance) -> AllowanceOut:
        return cls(
            person_id=a.person_id, month=a.month, allowance=a.allowance, given=a.given, left=a.left
        )


class RecognitionIn(Strict):
    recipient_id: Id
    points: Points
    message: str = Field(max_length=MAX_MESSAGE)
    value: Tag


class RecognitionOut(BaseModel):
    recognition_id: str
    giver_id: str
    recipient_id: str
    points: int
    value: str
    given_at: datetime
    allowance_left: int


class BoardLineOut(BaseModel):
    rank: int
    subject_id: str
    points: int

    @classmethod
    def of(cls, rank: int, line: BoardLine) -> BoardLineOut:
        return cls(rank=rank, subject_id=line.subject_id, points=line.points)


class BoardOut(BaseModel):
    board: str
    period: str
    lines: list[BoardLineOut]


class TrackedRequestOut(BaseModel):
    """What the gateway shows on a request: where it stands and the points it earned."""

    request_id: str
    status: str
    submitted_at: datetime | None
    settlement: str
    points: int
    awarded: int
    revoked: int
    entries: list[EntryOut] = Field(
        default_factory=list, description="The entries behind the points the caller may see."
    )

    @classmethod
    def of(cls, p: RequestPoints) -> TrackedRequestOut:
        return cls(
            request_id=p.facts.request_id,
            status=p.facts.status,
            submitted_at=p.facts.submitted_at,
            settlement=p.settlement,
            points=p.net,
            awarded=p.awarded,
            revoked=p.revoked,
            entries=[EntryOut.of(e) for e in p.entries],
        )


class DriftOut(BaseModel):
    account: str
    ledger: int
    balance: int


class AuditOut(BaseModel):
    accounts: int
    ledger_total: int
    uncounted: int
    drift: list[DriftOut]

    @classmethod
    def of(cls, a: Audit) -> AuditOut:
        return cls(
            accounts=a.accounts,
            ledger_total=a.ledger_total,
            uncounted=a.uncounted,
            drift=[
                DriftOut(account=d.account, ledger=d.ledger, balance=d.balance) for d in a.drift
            ],
        )


# --- rewards -----------------------------------------------------------------------------------


Localized = dict[Literal["en", "zh-CN"], Annotated[str, Field(min_length=1, max_length=200)]]


class RewardIn(Strict):
    name: Localized = Field(min_length=1)
    description: dict[Literal["en", "zh-CN"], Annotated[str, Field(max_length=2000)]] = {}
    cost: Points
    stock: int = Field(ge=0, le=1_000_000)
    active: bool = True

    def to_domain(self, reward_id: str) -> Reward:
        return Reward(
            reward_id=reward_id,
            name={str(k): v for k, v in self.name.items()},
            cost=self.cost,
            stock=self.stock,
            active=self.active,
            description={str(k): v for k, v in self.description.items()},
        )


class RewardOut(BaseModel):
    id: str
    name: dict[str, str]
    description: dict[str, str]
    cost: int
    stock: int
    active: bool

    @classmethod
    def of(cls, r: Reward) -> RewardOut:
        return cls(
            id=r.reward_id,
            name=r.name,
            description=r.description,
            cost=r.cost,
            stock=r.stock,
            active=r.active,
        )


class RedeemIn(Strict):
    reward_id: Id


class CancelIn(Strict):
    reason: str = Field(default="", max_length=1000)


class RedemptionOut(BaseModel):
    id: str
    person_id: str
    reward_id: str
    cost: int
    state: str
    requested_at: datetime
    reason: str
    decided_by: str
    decided_at: datetime | None

    @classmethod
    def of(cls, r: Redemption) -> RedemptionOut:
        return cls(
            id=r.redemption_id,
            person_id=r.person_id,
            reward_id=r.reward_id,
            cost=r.cost,
            state=str(r.state),
            requested_at=r.requested_at,
            reason=r.reason,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
        )


def encode_cursor(entry: Entry) -> str:
    """Opaque and URL-safe: the last entry's (time, id), where the next page starts below."""
    raw = f"{entry.at.astimezone(UTC).isoformat()}|{entry.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, sep, last = raw.partition("|")
        when = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (when, last) if sep and when.tzinfo else None
