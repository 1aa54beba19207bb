"""Points, from the incentives service: the caller's balance, allowance and history, people's
and departments' accounts (for those the service lets see them), leaderboards, rewards and
redemptions, the points policy and its what-if report, a request's points, and every
incentives action as a mutation returning a union of its result and typed problems.

The service decides who may see and do what with the caller's own token; the gateway only
shapes its answers."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from icr.gateway.clients import Json, UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.directory import (
    Department,
    MaybeAwaitable,
    Person,
    Role,
    department,
    localized,
    person,
)
from icr.gateway.errors import BAD_USER_INPUT, Conflict, Forbidden, InvalidInput, NotFound
from icr.gateway.errors import problem_from as _problem_from

if TYPE_CHECKING:
    from icr.gateway.requests import ServiceRequest

Info = strawberry.Info[Context, None]
Request = Annotated["ServiceRequest", strawberry.lazy("icr.gateway.requests")]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _bad_input(message: str, field: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT, "field": field})


# --- typed problems the incentives service tells apart (409 with its own code) ----------------


@strawberry.type(description="Not enough available points (balance minus what is held).")
class InsufficientBalance:
    message: str


@strawberry.type(description="The reward has no unit left.")
class OutOfStock:
    message: str


@strawberry.type(description="The gift is more than what is left of this month's allowance.")
class AllowanceExceeded:
    message: str


@strawberry.type(description="The giver already gave this recipient the month's most.")
class RecipientCapReached:
    message: str


def problem_from(error: UpstreamError) -> Any:
    """The service's refusal as a typed GraphQL problem; 5xx stays an exception."""
    specific = {
        "insufficient_points": InsufficientBalance,
        "out_of_stock": OutOfStock,
        "allowance_exceeded": AllowanceExceeded,
        "cap_reached": RecipientCapReached,
    }.get(error.code)
    if error.status == 409 and specific is not None:
        return specific(message=error.message)
    return _problem_from(error)


async def _get(info: Info, path: str, **params: Any) -> Any:
    """A read as the caller; the same path read twice in one query is one call."""
    query = {k: v for k, v in params.items() if v is not None}
    if query:
        return await info.context.clients.incentives.call(
            "GET", path, token=info.context.token(), params=query
        )
    return await info.context.loaders.incentives.load(path)


async def _write(info: Info, method: str, path: str, body: Json) -> Json | Any:
    try:
        row: Json = await info.context.clients.incentives.call(
            method, path, token=info.context.token(), json=body
        )
    except UpstreamError as error:
        return problem_from(error)
    return row


def _page_size(info: Info, first: int, largest: int = 100) -> int:
    largest = min(largest, info.context.clients.settings.max_page_size)
    if not 1 <= first <= largest:
        raise _bad_input(f"first must be 1 to {largest}", "first")
    return first


# --- accounts, allowance, ledger ---------------------------------------------------------------


@strawberry.type(description="A points account: a person's, or a department's share.")
class PointsAccount:
    account: str = strawberry.field(description="A person id, or dept:<id> for a department.")
    balance: int = strawberry.field(description="The sum of the account's ledger entries.")
    available: int = strawberry.field(description="What can be spent: balance minus reserved.")
    reserved: int = strawberry.field(description="Held by redemptions not yet debited.")
    earned: int = strawberry.field(description="Awards, revocations and recognition (all time).")
    department_id: strawberry.Private[str]

    @classmethod
    def from_json(cls, row: Json) -> PointsAccount:
        return cls(
            account=row["account"],
            balance=row["balance"],
            available=row["available"],
            reserved=row["reserved"],
            earned=row["earned"],
            department_id=row.get("department_id") or "",
        )

    @strawberry.field(description="The person, for a person's account.")
    async def person(self, info: Info) -> Person | None:
        if self.account.startswith("dept:"):
            return None
        return await person(info, self.account)

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await department(info, self.department_id)


@strawberry.type(description="This month's giving allowance: it resets on the 1st (UTC).")
class Allowance:
    month: str
    allowance: int = strawberry.field(description="The month's total (by the giver's roles).")
    given: int
    left: int

    @classmethod
    def from_json(cls, row: Json) -> Allowance:
        return cls(
            month=row["month"], allowance=row["allowance"], given=row["given"], left=row["left"]
        )


@strawberry.enum
class EntryKind(Enum):
    AWARD = "award"
    REVOKE = "revoke"
    RECOGNITION = "recognition"
    DEBIT = "debit"
    REFUND = "refund"


@strawberry.type(description="One ledger entry (the ledger is append-only).")
class LedgerEntry:
    id: strawberry.ID
    account: str
    amount: int = strawberry.field(description="Negative for a revocation or a debit.")
    kind: EntryKind
    reason: str
    rule_id: str
    policy_version: int
    at: datetime
    revokes: str | None = strawberry.field(description="The entry a revocation cancels.")
    request_id: strawberry.Private[str | None]

    @classmethod
    def from_json(cls, row: Json) -> LedgerEntry:
        return cls(
            id=strawberry.ID(row.get("id") or row["entry_id"]),
            account=row["account"],
            amount=row["amount"],
            kind=EntryKind(row.get("kind") or ("revoke" if row["amount"] < 0 else "award")),
            reason=row["reason"],
            rule_id=row["rule_id"],
            policy_version=row["policy_version"],
            at=datetime.fromisoformat(row["at"]),
            revokes=row.get("revokes"),
            request_id=row.get("request_id"),
        )

    @strawberry.field(description="The request that earned it, if any.")
    async def request(self, info: Info) -> Request | None:
        from icr.gateway.requests import request

        return await request(info, self.request_id)


@strawberry.type
class LedgerPageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type
class LedgerEdge:
    node: LedgerEntry


@strawberry.type(description="A page of ledger entries, newest first (forward only).")
class LedgerConnection:
    edges: list[LedgerEdge]
    page_info: LedgerPageInfo

    @strawberry.field
    def nodes(self) -> list[LedgerEntry]:
        return [e.node for e in self.edges]


async def ledger_page(
    info: Info, person_id: str, first: int, after: str | None = None
) -> LedgerConnection:
    first = _page_size(info, first)
    path = f"/accounts/{segment(person_id)}/entries"
    page = await _get(info, path, limit=first, cursor=after)
    cursor = page.get("next_cursor")
    return LedgerConnection(
        edges=[LedgerEdge(node=LedgerEntry.from_json(e)) for e in page["entries"]],
        page_info=LedgerPageInfo(has_next_page=cursor is not None, end_cursor=cursor),
    )


async def _account(info: Info) -> PointsAccount:
    return PointsAccount.from_json(await _get(info, "/accounts/me"))


async def _balance(info: Info) -> int:
    return int((await _get(info, "/accounts/me"))["available"])


@strawberry.type(description="The caller: profile and roles, and their points.")
class Me(Person):
    @strawberry.field(description="The caller's points account.", graphql_type=PointsAccount)
    def account(self, info: Info) -> MaybeAwaitable[PointsAccount]:
        row = info.context.loaders.cached_account()
        if row is not None:
            return PointsAccount.from_json(row)
        return _account(info)

    @strawberry.field(
        description="Points the caller can spend now (balance minus held).", graphql_type=int
    )
    def balance(self, info: Info) -> MaybeAwaitable[int]:
        row = info.context.loaders.cached_account()
        if row is not None:
            return int(row["available"])
        return _balance(info)

    @strawberry.field(description="This month's giving allowance: total, given and left.")
    async def allowance(self, info: Info) -> Allowance:
        return Allowance.from_json(await _get(info, "/allowances/me"))

    @strawberry.field(description="The caller's latest ledger entries, newest first.")
    async def recent_points(self, info: Info, first: int = 5) -> list[LedgerEntry]:
        return [edge.node for edge in (await ledger_page(info, str(self.id), first)).edges]

    @strawberry.field(description="The caller's ledger, newest first, paged.")
    async def points_history(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> LedgerConnection:
        return await ledger_page(info, str(self.id), first, after)


@strawberry.type(description="A department's own account and its members' accounts.")
class DepartmentPoints:
    department: PointsAccount
    members: list[PointsAccount]


# --- leaderboards ------------------------------------------------------------------------------


@strawberry.enum
class Board(Enum):
    PEOPLE = "people"
    DEPARTMENTS = "departments"


@strawberry.enum
class PeriodSpan(Enum):
    MONTH = "month"
    QUARTER = "quarter"
    ALL_TIME = "all"


def period_label(span: PeriodSpan, at: datetime | None = None) -> str:
    """The service's label of the current period (UTC): "2026-12", "2026-Q4" or "all"."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    if span is PeriodSpan.MONTH:
        return f"{at.year:04d}-{at.month:02d}"
    if span is PeriodSpan.QUARTER:
        return f"{at.year:04d}-Q{(at.month - 1) // 3 + 1}"
    return "all"


@strawberry.type
class LeaderboardLine:
    rank: int
    subject_id: strawberry.ID = strawberry.field(description="A person or a department id.")
    points: int
    board: strawberry.Private[Board]

    @strawberry.field(description="On the people board.")
    async def person(self, info: Info) -> Person | None:
        return await person(info, str(self.subject_id)) if self.board is Board.PEOPLE else None

    @strawberry.field(description="On the departments board.")
    async def department(self, info: Info) -> Department | None:
        if self.board is not Board.DEPARTMENTS:
            return None
        return await department(info, str(self.subject_id))


@strawberry.type(description="Points earned per person or department in a period.")
class Leaderboard:
    board: Board
    period: str = strawberry.field(description='A month "2026-12", a quarter "2026-Q4" or "all".')
    lines: list[LeaderboardLine]

    @classmethod
    def from_json(cls, row: Json) -> Leaderboard:
        board = Board(row["board"])
        return cls(
            board=board,
            period=row["period"],
            lines=[
                LeaderboardLine(
                    rank=line["rank"],
                    subject_id=strawberry.ID(line["subject_id"]),
                    points=line["points"],
                    board=board,
                )
                for line in row["lines"]
            ],
        )


async def leaderboard(
    info: Info, board: Board, span: PeriodSpan, period: str | None, first: int
) -> Leaderboard:
    first = _page_size(info, first)
    label = period or period_label(span)
    return Leaderboard.from_json(
        await _get(info, f"/leaderboards/{board.value}", period=label, limit=first)
    )


# --- rewards and redemptions -------------------------------------------------------------------


@strawberry.type
class Reward:
    id: strawberry.ID
    names: JSON = strawberry.field(description="The name per locale.")
    descriptions: JSON = strawberry.field(description="The description per locale.")
    cost: int
    stock: int
    active: bool

    @strawberry.field(description="The name in a locale (English if it has none there).")
    def name(self, locale: str = "en") -> str:
        return localized(self.names, locale)

    @strawberry.field
    def description(self, locale: str = "en") -> str:
        return localized(self.descriptions, locale)

    @classmethod
    def from_json(cls, row: Json) -> Reward:
        return cls(
            id=strawberry.ID(row["id"]),
            names=JSON(row["name"]),
            descriptions=JSON(row.get("description") or {}),
            cost=row["cost"],
            stock=row["stock"],
            active=row["active"],
        )


@strawberry.enum
class RedemptionState(Enum):
    PENDING = "pending"
    RESERVED = "reserved"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


@strawberry.type(description="A reward redeemed: RESERVED until an admin fulfils or cancels it.")
class Redemption:
    id: strawberry.ID
    cost: int
    state: RedemptionState
    requested_at: datetime
    reason: str = strawberry.field(description="Why it was cancelled, if it was.")
    decided_at: datetime | None
    person_id: strawberry.Private[str]
    reward_id: strawberry.Private[str]
    decided_by: strawberry.Private[str]

    @classmethod
    def from_json(cls, row: Json) -> Redemption:
        return cls(
            id=strawberry.ID(row["id"]),
            cost=row["cost"],
            state=RedemptionState(row["state"]),
            requested_at=datetime.fromisoformat(row["requested_at"]),
            reason=row.get("reason") or "",
            decided_at=_when(row.get("decided_at")),
            person_id=row["person_id"],
            reward_id=row["reward_id"],
            decided_by=row.get("decided_by") or "",
        )

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await person(info, self.person_id)

    @strawberry.field(description="The admin who fulfilled or cancelled it.")
    async def decided_by_person(self, info: Info) -> Person | None:
        return await person(info, self.decided_by or None)

    @strawberry.field(description="The reward (one catalog read per query).")
    async def reward(self, info: Info) -> Reward | None:
        rows = await _get(info, "/rewards")
        found = next((r for r in rows if r["id"] == self.reward_id), None)
        return Reward.from_json(found) if found else None


async def redemptions(
    info: Info, person_id: str | None, state: RedemptionState | None, first: int
) -> list[Redemption]:
    first = _page_size(info, first)
    rows = await _get(
        info, "/redemptions", person_id=person_id, state=state and state.value, limit=first
    )
    return [Redemption.from_json(r) for r in rows]


# --- the points policy -------------------------------------------------------------------------


@strawberry.enum
class RuleTrigger(Enum):
    RESOLUTION = "resolution"
    RATING_GIVEN = "rating_given"


@strawberry.enum
class RulePayee(Enum):
    ASSIGNEE = "assignee"
    PROVIDER_DEPARTMENT = "provider_department"
    RATER = "rater"


@strawberry.type(description="Conditions that must all hold for a rule to pay.")
class RuleConditions:
    sla_met: bool | None
    first_response_met: bool | None
    min_stars: int | None


@strawberry.type
class PolicyRule:
    id: str
    on: RuleTrigger
    pays: RulePayee
    points: int
    when: RuleConditions


@strawberry.type
class RoleAllowance:
    role: Role
    points: int


@strawberry.type(description="How recognition works: allowances, message length, value tags.")
class RecognitionTerms:
    allowance_by_role: list[RoleAllowance]
    min_message_length: int
    values: list[str]
    per_recipient_cap_per_month: int


@strawberry.type(description="A version of the points policy (version 0 is built in).")
class PointsPolicy:
    version: int
    effective_from: datetime
    rules: list[PolicyRule]
    recognition: RecognitionTerms
    pair_cap_per_month: int | None
    published_at: datetime | None
    notes: str
    published_by: strawberry.Private[str]

    @strawberry.field
    async def published_by_person(self, info: Info) -> Person | None:
        return await person(info, self.published_by or None)

    @classmethod
    def from_json(cls, row: Json) -> PointsPolicy:
        terms = row["recognition"]
        return cls(
            version=row["version"],
            effective_from=datetime.fromisoformat(row["effective_from"]),
            rules=[
                PolicyRule(
                    id=r["id"],
                    on=RuleTrigger(r["on"]),
                    pays=RulePayee(r["pays"]),
                    points=r["points"],
                    when=RuleConditions(
                        sla_met=r["when"].get("sla_met"),
                        first_response_met=r["when"].get("first_response_met"),
                        min_stars=r["when"].get("min_stars"),
                    ),
                )
                for r in row["rules"]
            ],
            recognition=RecognitionTerms(
                allowance_by_role=[
                    RoleAllowance(role=Role(k), points=v)
                    for k, v in terms["allowance_by_role"].items()
                ],
                min_message_length=terms["min_message_length"],
                values=list(terms["values"]),
                per_recipient_cap_per_month=terms["per_recipient_cap_per_month"],
            ),
            pair_cap_per_month=row.get("pair_cap_per_month"),
            published_at=_when(row.get("published_at")),
            notes=row.get("notes") or "",
            published_by=row.get("published_by") or "",
        )


@strawberry.input
class RuleConditionsInput:
    sla_met: bool | None = None
    first_response_met: bool | None = None
    min_stars: int | None = strawberry.field(default=None, description="1 to 5.")


@strawberry.input
class PolicyRuleInput:
    id: str
    on: RuleTrigger
    pays: RulePayee
    points: int
    when: RuleConditionsInput | None = None


@strawberry.input
class RoleAllowanceInput:
    role: Role
    points: int


@strawberry.input
class RecognitionTermsInput:
    allowance_by_role: list[RoleAllowanceInput]
    min_message_length: int
    values: list[str]
    per_recipient_cap_per_month: int


@strawberry.input(description="Rules and terms of a policy (a proposal for what-if).")
class PolicyProposalInput:
    rules: list[PolicyRuleInput]
    recognition: RecognitionTermsInput
    pair_cap_per_month: int | None = None
    notes: str = ""

    def body(self) -> Json:
        terms = self.recognition
        rules = []
        for r in self.rules:
            when = r.when or RuleConditionsInput()
            given = {
                "sla_met": when.sla_met,
                "first_response_met": when.first_response_met,
                "min_stars": when.min_stars,
            }
            rules.append(
                {
                    "id": r.id,
                    "on": r.on.value,
                    "pays": r.pays.value,
                    "points": r.points,
                    "when": {k: v for k, v in given.items() if v is not None},
                }
            )
        return {
            "rules": rules,
            "recognition": {
                "allowance_by_role": {a.role.value: a.points for a in terms.allowance_by_role},
                "min_message_length": terms.min_message_length,
                "values": terms.values,
                "per_recipient_cap_per_month": terms.per_recipient_cap_per_month,
            },
            "pair_cap_per_month": self.pair_cap_per_month,
            "notes": self.notes,
        }


@strawberry.input(description="The next policy version; it applies from `effectiveFrom` on.")
class PolicyInput(PolicyProposalInput):
    effective_from: datetime = strawberry.field(
        description="With a time zone; not in the past, nor before the latest version's."
    )


@strawberry.input(description="A proposed policy run over the requests resolved in [from, to).")
class WhatIfInput:
    policy: PolicyProposalInput
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.type
class WhatIfLine:
    subject_id: strawberry.ID
    awarded: int = strawberry.field(description="What was paid (net of revocations).")
    proposed: int = strawberry.field(description="What the proposal would have paid.")
    difference: int


@strawberry.type(description="What a proposed policy would have paid, next to what was paid.")
class WhatIfReport:
    requests: int
    awarded_total: int
    proposed_total: int
    people: list[WhatIfLine]
    departments: list[WhatIfLine]

    @classmethod
    def from_json(cls, row: Json) -> WhatIfReport:
        def lines(rows: list[Json]) -> list[WhatIfLine]:
            return [
                WhatIfLine(
                    subject_id=strawberry.ID(r["id"]),
                    awarded=r["awarded"],
                    proposed=r["proposed"],
                    difference=r["difference"],
                )
                for r in rows
            ]

        return cls(
            requests=row["requests"],
            awarded_total=row["awarded_total"],
            proposed_total=row["proposed_total"],
            people=lines(row["people"]),
            departments=lines(row["departments"]),
        )


# --- a request's points ------------------------------------------------------------------------


@strawberry.enum
class Settlement(Enum):
    OPEN = "open"
    AWAITING_RATING = "awaiting_rating"
    SETTLED = "settled"


@strawberry.type
class RequestIncentives:
    """Where the request stands for the incentives service and the points it earned."""

    request_id: strawberry.ID
    status: str
    tracked_since: datetime | None
    settlement: str = strawberry.field(
        description="open, awaiting_rating (resolved, the rating not in yet) or settled."
    )
    points: int = strawberry.field(description="Points its resolution and rating earned, net.")
    awarded: int
    revoked: int = strawberry.field(description="Taken back (reopened, recovery); negative.")
    entries: list[LedgerEntry] = strawberry.field(
        description="The entries it earned (awards and revocations), oldest first: those on the "
        "caller's own account, on accounts of a department the caller manages, or all for "
        "admins. The net `points` are shown to anyone."
    )

    @classmethod
    def from_json(cls, row: Json) -> RequestIncentives:
        since = row.get("submitted_at")
        return cls(
            request_id=strawberry.ID(row["request_id"]),
            status=row["status"],
            tracked_since=datetime.fromisoformat(since) if since else None,
            settlement=row.get("settlement", "open"),
            points=row.get("points", 0),
            awarded=row.get("awarded", 0),
            revoked=row.get("revoked", 0),
            entries=[LedgerEntry.from_json(e) for e in row.get("entries", [])],
        )

    @strawberry.field(description="The settlement as an enum.")
    def settlement_state(self) -> Settlement:
        return Settlement(self.settlement)


# --- queries -----------------------------------------------------------------------------------


WhatIfResult = Annotated[
    WhatIfReport | InvalidInput | Forbidden,
    strawberry.union("WhatIfResult", description="The report, or why not."),
]


async def _me_loaded(info: Info, subject: str) -> Me | None:
    row = await info.context.loaders.people.load(subject)
    return None if row is None else Me.from_json(row)


@strawberry.type
class IncentivesQuery:
    @strawberry.field(
        description="The caller: profile, roles, balance, allowance and points.",
        graphql_type=Me | None,
    )
    def me(self, info: Info) -> MaybeAwaitable[Me | None]:
        subject = info.context.subject()  # UNAUTHENTICATED without a valid token
        row = info.context.loaders.cached_person(subject)
        if row is not None:
            return Me.from_json(row)  # at once: the read cache knows the caller
        return _me_loaded(info, subject)

    @strawberry.field(description="A person's points account: themselves, their manager, admins.")
    async def points_account(self, info: Info, person_id: strawberry.ID) -> PointsAccount | None:
        return PointsAccount.from_json(await _get(info, f"/accounts/{segment(str(person_id))}"))

    @strawberry.field(
        description="A person's ledger, newest first: themselves, their manager, admins."
    )
    async def ledger(
        self, info: Info, person_id: strawberry.ID, first: int = 20, after: str | None = None
    ) -> LedgerConnection | None:
        return await ledger_page(info, str(person_id), first, after)

    @strawberry.field(description="A department's account and its members': its manager, admins.")
    async def department_points(
        self, info: Info, department_id: strawberry.ID
    ) -> DepartmentPoints | None:
        row = await _get(info, f"/departments/{segment(str(department_id))}/accounts")
        return DepartmentPoints(
            department=PointsAccount.from_json(row["department"]),
            members=[PointsAccount.from_json(m) for m in row["members"]],
        )

    @strawberry.field(
        description="Points earned per person or department: this month by default, or this "
        "quarter, all time, or a named `period` (2026-11, 2026-Q3)."
    )
    async def leaderboard(
        self,
        info: Info,
        board: Board = Board.PEOPLE,
        span: PeriodSpan = PeriodSpan.MONTH,
        period: str | None = None,
        first: int = 20,
    ) -> Leaderboard | None:
        return await leaderboard(info, board, span, period, first)

    @strawberry.field(description="The reward catalog (admins also see inactive rewards).")
    async def rewards(self, info: Info) -> list[Reward] | None:
        return [Reward.from_json(r) for r in await _get(info, "/rewards")]

    @strawberry.field(description="The caller's redemptions, newest first.")
    async def my_redemptions(
        self, info: Info, state: RedemptionState | None = None, first: int = 50
    ) -> list[Redemption] | None:
        # The caller's own, by id: the service lists everyone's for an admin who names nobody.
        info.context.token()  # UNAUTHENTICATED without a valid token
        assert info.context.identity is not None
        return await redemptions(info, info.context.identity.subject, state, first)

    @strawberry.field(
        description="Admins: everyone's redemptions, or one person's, newest first (e.g. state "
        "RESERVED: those waiting to be fulfilled). Anyone else sees their own only, as the "
        "service rules: another person's id is FORBIDDEN."
    )
    async def redemptions(
        self,
        info: Info,
        person_id: strawberry.ID | None = None,
        state: RedemptionState | None = None,
        first: int = 50,
    ) -> list[Redemption] | None:
        return await redemptions(info, person_id and str(person_id), state, first)

    @strawberry.field(description="The points policy in effect now.")
    async def points_policy(self, info: Info) -> PointsPolicy | None:
        return PointsPolicy.from_json(await _get(info, "/policies/current"))

    @strawberry.field(description="Every policy version, newest first.")
    async def points_policy_versions(self, info: Info) -> list[PointsPolicy] | None:
        return [PointsPolicy.from_json(p) for p in await _get(info, "/policies")]

    @strawberry.field(
        description="Admins: what a proposed policy would have paid over a past period, next "
        "to what was paid. Writes nothing."
    )
    async def policy_what_if(self, info: Info, input: WhatIfInput) -> WhatIfResult | None:
        body = {
            "policy": input.policy.body(),
            "from": input.from_.isoformat(),
            "to": input.to.isoformat(),
        }
        row = await _write(info, "POST", "/policies/what-if", body)
        return WhatIfReport.from_json(row) if isinstance(row, dict) else row


# --- mutations ---------------------------------------------------------------------------------


@strawberry.type(description="A colleague recognised with points from the giver's allowance.")
class Recognition:
    id: strawberry.ID
    points: int
    value: str
    given_at: datetime
    allowance_left: int = strawberry.field(description="What the giver has left this month.")
    giver_id: strawberry.Private[str]
    recipient_id: strawberry.Private[str]

    @strawberry.field
    async def giver(self, info: Info) -> Person | None:
        return await person(info, self.giver_id)

    @strawberry.field
    async def recipient(self, info: Info) -> Person | None:
        return await person(info, self.recipient_id)


@strawberry.input
class RecognitionInput:
    recipient_id: strawberry.ID
    points: int
    message: str = strawberry.field(description="At least the policy's min_message_length.")
    value: str = strawberry.field(description="One of the policy's value tags, e.g. teamwork.")


@strawberry.input
class RewardInput:
    id: strawberry.ID
    names: JSON = strawberry.field(description='The name per locale, e.g. {"en": "Mug"}.')
    descriptions: JSON | None = None
    cost: int
    stock: int
    active: bool = True


RecognitionResult = Annotated[
    Recognition
    | InvalidInput
    | NotFound
    | Forbidden
    | Conflict
    | AllowanceExceeded
    | RecipientCapReached,
    strawberry.union("RecognitionResult"),
]
RedemptionResult = Annotated[
    Redemption | InvalidInput | NotFound | Forbidden | Conflict | InsufficientBalance | OutOfStock,
    strawberry.union("RedemptionResult"),
]
RewardResult = Annotated[
    Reward | InvalidInput | NotFound | Forbidden | Conflict, strawberry.union("RewardResult")
]
PolicyResult = Annotated[
    PointsPolicy | InvalidInput | Forbidden | Conflict, strawberry.union("PolicyResult")
]


def _redemption(row: Any) -> Any:
    return Redemption.from_json(row) if isinstance(row, dict) else row


@strawberry.type
class IncentivesMutation:
    @strawberry.mutation(description="Give a colleague points from this month's allowance.")
    async def give_recognition(self, info: Info, input: RecognitionInput) -> RecognitionResult:
        body = {
            "recipient_id": str(input.recipient_id),
            "points": input.points,
            "message": input.message,
            "value": input.value,
        }
        row = await _write(info, "POST", "/recognitions", body)
        if not isinstance(row, dict):
            return row  # type: ignore[no-any-return]
        return Recognition(
            id=strawberry.ID(row["recognition_id"]),
            points=row["points"],
            value=row["value"],
            given_at=datetime.fromisoformat(row["given_at"]),
            allowance_left=row["allowance_left"],
            giver_id=row["giver_id"],
            recipient_id=row["recipient_id"],
        )

    @strawberry.mutation(description="Spend points on a reward; it waits for an admin then.")
    async def redeem_reward(self, info: Info, reward_id: strawberry.ID) -> RedemptionResult:
        row = await _write(info, "POST", "/redemptions", {"reward_id": str(reward_id)})
        return _redemption(row)  # type: ignore[no-any-return]

    @strawberry.mutation(description="Admins: the reward was handed over.")
    async def fulfil_redemption(self, info: Info, id: strawberry.ID) -> RedemptionResult:
        path = f"/redemptions/{segment(str(id))}/fulfil"
        return _redemption(await _write(info, "POST", path, {}))  # type: ignore[no-any-return]

    @strawberry.mutation(description="Admins: cancel a redemption; its points are refunded.")
    async def cancel_redemption(
        self, info: Info, id: strawberry.ID, reason: str = ""
    ) -> RedemptionResult:
        path = f"/redemptions/{segment(str(id))}/cancel"
        row = await _write(info, "POST", path, {"reason": reason})
        return _redemption(row)  # type: ignore[no-any-return]

    @strawberry.mutation(description="Admins: create or change a reward.")
    async def upsert_reward(self, info: Info, input: RewardInput) -> RewardResult:
        body: Json = {
            "name": input.names,
            "description": input.descriptions or {},
            "cost": input.cost,
            "stock": input.stock,
            "active": input.active,
        }
        row = await _write(info, "PUT", f"/rewards/{segment(str(input.id))}", body)
        return Reward.from_json(row) if isinstance(row, dict) else row

    @strawberry.mutation(description="Admins: publish the next version of the points policy.")
    async def publish_policy(self, info: Info, input: PolicyInput) -> PolicyResult:
        body = {**input.body(), "effective_from": input.effective_from.isoformat()}
        row = await _write(info, "POST", "/policies", body)
        return PointsPolicy.from_json(row) if isinstance(row, dict) else row
