"""Department matrix routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from icr.feedback.api.deps import DepsDep, MemberDep
from icr.feedback.api.schemas import MatrixCellOut, MatrixOut, ReciprocityOut
from icr.feedback.api.scores import DepartmentId, Key
from icr.feedback.handlers import matrix
from icr.kit.periods import PeriodKind
from icr.kit.strict import strict_query

router = APIRouter(tags=["matrix"])


@router.get(
    "/matrix", response_model=MatrixOut, dependencies=[Depends(strict_query("period", "key"))]
)
async def department_matrix(
    period: PeriodKind, key: Key, deps: DepsDep, member: MemberDep
) -> MatrixOut:
    mean, cells = await matrix.department_matrix(period, key, member=member, deps=deps)
    departments = sorted(
        {d for c in cells for d in (c.provider_department_id, c.consumer_department_id)}
    )
    return MatrixOut(
        period=period.value,
        period_key=key,
        organisation_mean=mean,
        departments=departments,
        cells=[MatrixCellOut.of(c) for c in cells],
    )


@router.get(
    "/departments/{department_id}/reciprocity",
    response_model=ReciprocityOut,
    dependencies=[Depends(strict_query("period", "key"))],
)
async def reciprocity(
    department_id: DepartmentId, period: PeriodKind, key: Key, deps: DepsDep, member: MemberDep
) -> ReciprocityOut:
    found = await matrix.reciprocity(department_id, period, key, member=member, deps=deps)
    return ReciprocityOut.of(found, period.value, key)
