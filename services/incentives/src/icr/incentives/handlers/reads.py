"""Reads with their authorization: own balance, history and allowance; a manager's department;
leaderboards; points per request for the gateway."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from icr.incentives.domain.errors import Forbidden
from icr.incentives.domain.ledger import Entry, Kind, department_account
from icr.incentives.domain.settlement import RequestFacts
from icr.incentives.handlers.deps import Deps
from icr.incentives.handlers.ports import Account, BoardLine
from icr.kit.directory import Member


async def check_may_see(person_id: str, *, member: Member, deps: Deps) -> None:
    """Oneself, a manager of the person's department, or an admin."""
    if member.is_admin or person_id == member.person_id:
        return
    person = await deps.people.person(person_id)
    if person is not None and member.manages(person.department_id):
        return
    raise Forbidden("only the person, their department's manager or an admin may see this")


def check_may_see_department(department_id: str, *, member: Member) -> None:
    if not (member.is_admin or member.manages(department_id)):
        raise Forbidden("only the department's manager or an admin may see this")


async def account_of(account: str, *, deps: Deps) -> Account:
    found = await deps.accounts.get(account)
    return found or Account(account, "", 0, 0, 0)


async def person_account(person_id: str, *, member: Member, deps: Deps) -> Account:
    await check_may_see(person_id, member=member, deps=deps)
    return await account_of(person_id, deps=deps)


async def history(
    person_id: str,
    *,
    member: Member,
    deps: Deps,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Entry]:
    await check_may_see(person_id, member=member, deps=deps)
    return await deps.ledger.history(person_id, before=before, limit=limit)


@dataclass(frozen=True)
class DepartmentView:
    department: Account
    members: list[Account]


async def department_accounts(department_id: str, *, member: Member, deps: Deps) -> DepartmentView:
    check_may_see_department(department_id, member=member)
    own = await account_of(department_account(department_id), deps=deps)
    people = await deps.accounts.in_department(department_id)
    return DepartmentView(own, [a for a in people if a.account != own.account])


async def leaderboard(board: str, period: str, limit: int, *, deps: Deps) -> list[BoardLine]:
    return await deps.boards.top(board, period, limit)


@dataclass(frozen=True)
class Drift:
    account: str
    ledger: int
    balance: int


@dataclass(frozen=True)
class Audit:
    accounts: int
    ledger_total: int
    uncounted: int
    """Entries written but not counted yet (the projection timer counts them within seconds)."""
    drift: list[Drift]


async def audit_ledger(*, deps: Deps) -> Audit:
    """Sums the ledger per account and compares every balance with it (read only). With no
    uncounted entries, any drift is a bug: the balances must be rebuilt from the ledger."""
    sums, balances = await deps.ledger.sums(), await deps.accounts.balances()
    drift = [
        Drift(a, sums.get(a, 0), balances.get(a, 0))
        for a in sorted(set(sums) | set(balances))
        if sums.get(a, 0) != balances.get(a, 0)
    ]
    return Audit(len(balances), sum(sums.values()), await deps.ledger.uncounted(), drift)


@dataclass(frozen=True)
class RequestPoints:
    facts: RequestFacts
    awarded: int
    revoked: int
    entries: tuple[Entry, ...] = ()
    """The request's entries the caller may see (see `may_see_entry`), oldest first."""

    @property
    def net(self) -> int:
        return self.awarded + self.revoked

    @property
    def settlement(self) -> str:
        f = self.facts
        if f.settled:
            return "settled"
        if f.resolution is not None:
            return "awaiting_rating"
        return "open"


def may_see_entry(entry: Entry, member: Member) -> bool:
    """An entry as its account's history shows it: to the account's person, a manager of the
    department it was earned in (a department's share included), or an admin. The entry's own
    department is used (no directory read per entry): the one the person was in when earning."""
    return (
        member.is_admin or entry.account == member.person_id or member.manages(entry.department_id)
    )


async def points_for_requests(
    request_ids: Sequence[str], *, member: Member, deps: Deps
) -> list[RequestPoints]:
    """Per request: the points its resolution and rating earned, net of revocations (anyone),
    and the entries behind them that the caller may see."""
    facts = await deps.facts.by_ids(request_ids)
    sums: dict[tuple[str | None, Kind], int] = defaultdict(int)
    shown: dict[str | None, list[Entry]] = defaultdict(list)
    for entry in await deps.ledger.for_requests([f.request_id for f in facts]):
        sums[(entry.request_id, entry.kind)] += entry.amount
        if may_see_entry(entry, member):
            shown[entry.request_id].append(entry)
    return [
        RequestPoints(
            f,
            sums[(f.request_id, Kind.AWARD)],
            sums[(f.request_id, Kind.REVOKE)],
            tuple(sorted(shown[f.request_id], key=lambda e: (e.at, e.id))),
        )
        for f in facts
    ]
