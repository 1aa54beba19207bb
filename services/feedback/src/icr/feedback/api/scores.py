"""Score routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from icr.feedback.api.deps import DepsDep, MemberDep
from icr.feedback.api.schemas import DepartmentScoresOut, ScoreOut, ScoreTableOut
from icr.feedback.handlers import scores
from icr.kit.periods import PeriodKind
from icr.kit.strict import strict_query

router = APIRouter(tags=["scores"])
Key = Annotated[str, Query(min_length=6, max_length=8, description="2026-W49, 2026-12, 2026-Q4")]
DepartmentId = Annotated[str, Path(min_length=1, max_length=100)]


@router.get(
    "/departments/{department_id}/scores",
    response_model=DepartmentScoresOut,
    dependencies=[Depends(strict_query("period", "key"))],
)
async def department_scores(
    department_id: DepartmentId,
    period: PeriodKind,
    key: Key,
    deps: DepsDep,
    member: MemberDep,
) -> DepartmentScoresOut:
    own, pairs = await scores.department_scores(
        department_id, period, key, member=member, deps=deps
    )
    return DepartmentScoresOut(department=ScoreOut.of(own), pairs=[ScoreOut.of(p) for p in pairs])


@router.get(
    "/scores", response_model=ScoreTableOut, dependencies=[Depends(strict_query("period", "key"))]
)
async def score_table(
    period: PeriodKind, key: Key, deps: DepsDep, member: MemberDep
) -> ScoreTableOut:
    mean, table = await scores.score_table(period, key, member=member, deps=deps)
    return ScoreTableOut(organisation_mean=mean, departments=[ScoreOut.of(s) for s in table])
