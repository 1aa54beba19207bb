"""Points routes: balances, history, allowance, recognition, leaderboards, points per request."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from icr.incentives.api.deps import DepsDep, MemberDep, strict_query
from icr.incentives.api.schemas import (
    ID_PATTERN,
    AccountOut,
    AllowanceOut,
    BoardLineOut,
    BoardOut,
    DepartmentOut,
    EntryOut,
    EntryPageOut,
    RecognitionIn,
    RecognitionOut,
    TrackedRequestOut,
    decode_cursor,
    encode_cursor,
)
from icr.incentives.domain.errors import InvalidInput
from icr.incentives.domain.periods import ALL_TIME, is_period, month_of
from icr.incentives.handlers import reads
from icr.incentives.handlers.recognition import Recognition, allowance_of, give_recognition

router = APIRouter(tags=["points"])
PersonId = Annotated[str, Path(pattern=ID_PATTERN)]
MAX_IDS = 200


@router.get("/accounts/me", response_model=AccountOut)
async def my_account(member: MemberDep, deps: DepsDep) -> AccountOut:
    """The caller's balance: earned points (never expire) minus what redemptions spent."""
    return AccountOut.of(await reads.account_of(member.person_id, deps=deps))


@router.get("/accounts/{person_id}", response_model=AccountOut)
async def account(person_id: PersonId, member: MemberDep, deps: DepsDep) -> AccountOut:
    """A person's balance: themselves, their department's manager or an admin."""
    return AccountOut.of(await reads.person_account(person_id, member=member, deps=deps))


@router.get(
    "/accounts/{person_id}/entries",
    response_model=EntryPageOut,
    dependencies=[Depends(strict_query("cursor", "limit"))],
)
async def entries(
    person_id: PersonId,
    member: MemberDep,
    deps: DepsDep,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EntryPageOut:
    """A person's ledger entries, newest first, paged by cursor."""
    before = None
    if cursor is not None:
        before = decode_cursor(cursor)
        if before is None:
            raise InvalidInput.one("cursor", "invalid", "not a cursor this list gave out")
    found = await reads.history(person_id, member=member, deps=deps, before=before, limit=limit)
    next_cursor = encode_cursor(found[-1]) if len(found) == limit else None
    return EntryPageOut(entries=[EntryOut.of(e) for e in found], next_cursor=next_cursor)


@router.get("/departments/{department_id}/accounts", response_model=DepartmentOut)
async def department_accounts(
    department_id: PersonId, member: MemberDep, deps: DepsDep
) -> DepartmentOut:
    """A department's own account and its members' balances: its manager or an admin."""
    view = await reads.department_accounts(department_id, member=member, deps=deps)
    return DepartmentOut(
        department=AccountOut.of(view.department),
        members=[AccountOut.of(a) for a in view.members],
    )


@router.get("/allowances/me", response_model=AllowanceOut)
async def my_allowance(member: MemberDep, deps: DepsDep) -> AllowanceOut:
    """What the caller can still give this month (it resets on the 1st, no rollover)."""
    return AllowanceOut.of(await allowance_of(member, deps=deps))


@router.post("/recognitions", status_code=201, response_model=RecognitionOut)
async def recognise(body: RecognitionIn, member: MemberDep, deps: DepsDep) -> RecognitionOut:
    """Give a colleague points from the monthly allowance, with a message and a value tag."""
    gift, allowance = await give_recognition(
        Recognition(body.recipient_id, body.points, body.message, body.value),
        giver=member,
        deps=deps,
    )
    return RecognitionOut(
        recognition_id=gift.recognition_id,
        giver_id=gift.giver_id,
        recipient_id=gift.recipient_id,
        points=gift.points,
        value=gift.value,
        given_at=gift.given_at,
        allowance_left=allowance.left,
    )


@router.get(
    "/leaderboards/{board}",
    response_model=BoardOut,
    dependencies=[Depends(strict_query("period", "limit"))],
)
async def leaderboard(
    board: Literal["people", "departments"],
    member: MemberDep,
    deps: DepsDep,
    period: Annotated[
        str | None, Query(description='A month "2026-12", a quarter "2026-Q4" or "all".')
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=200)] = None,
) -> BoardOut:
    """Points earned per person or department in a period (this month by default)."""
    period = period or month_of(deps.clock())
    if not is_period(period):
        raise InvalidInput.one("period", "invalid", f'a month, a quarter or "{ALL_TIME}"')
    size = limit or deps.settings.leaderboard_size
    lines = await reads.leaderboard(board, period, size, deps=deps)
    return BoardOut(
        board=board,
        period=period,
        lines=[BoardLineOut.of(rank, line) for rank, line in enumerate(lines, start=1)],
    )


@router.get(
    "/tracked-requests",
    response_model=list[TrackedRequestOut],
    dependencies=[Depends(strict_query("request_id"))],
)
async def tracked_requests(
    member: MemberDep,
    deps: DepsDep,
    request_id: Annotated[list[str], Query(min_length=1, max_length=MAX_IDS)],
) -> list[TrackedRequestOut]:
    """Batch read for the gateway: per request, its status here and the points it earned."""
    found = await reads.points_for_requests(request_id, member=member, deps=deps)
    return [TrackedRequestOut.of(p) for p in found]
