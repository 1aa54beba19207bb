"""Rating routes; they only delegate to the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from icr.feedback.api.deps import DepsDep, MemberDep
from icr.feedback.api.schemas import ClarityIn, Id, RateIn, RatingOut
from icr.feedback.domain.rating import Answer
from icr.feedback.handlers import ratings
from icr.kit.strict import strict_query

router = APIRouter(tags=["ratings"])
RequestId = Annotated[str, Path(min_length=1, max_length=100)]


@router.get(
    "/ratings", response_model=list[RatingOut], dependencies=[Depends(strict_query("request_id"))]
)
async def ratings_by_request(
    deps: DepsDep,
    member: MemberDep,
    request_id: Annotated[list[Id], Query(min_length=1, max_length=200)],
) -> list[RatingOut]:
    """Batch read by request ids (the gateway's one call per query): what the caller may see."""
    found = await ratings.ratings_by_request(request_id, member=member, deps=deps)
    return [RatingOut.of(r) for r in found]


@router.get(
    "/ratings/mine", response_model=list[RatingOut], dependencies=[Depends(strict_query("limit"))]
)
async def my_ratings(
    deps: DepsDep, member: MemberDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[RatingOut]:
    return [
        RatingOut.of(r) for r in await ratings.my_ratings(member=member, deps=deps, limit=limit)
    ]


@router.get("/ratings/{request_id}", response_model=RatingOut)
async def get_rating(request_id: RequestId, deps: DepsDep, member: MemberDep) -> RatingOut:
    return RatingOut.of(await ratings.get_rating(request_id, member=member, deps=deps))


@router.post("/ratings/{request_id}", response_model=RatingOut, status_code=201)
async def rate(request_id: RequestId, body: RateIn, deps: DepsDep, member: MemberDep) -> RatingOut:
    answer = Answer(body.stars, body.comment, dict(body.dimensions))
    return RatingOut.of(await ratings.submit_rating(request_id, answer, member=member, deps=deps))


@router.put("/ratings/{request_id}", response_model=RatingOut)
async def change(
    request_id: RequestId, body: RateIn, deps: DepsDep, member: MemberDep
) -> RatingOut:
    answer = Answer(body.stars, body.comment, dict(body.dimensions))
    return RatingOut.of(await ratings.change_rating(request_id, answer, member=member, deps=deps))


@router.post("/ratings/{request_id}/clarity", response_model=RatingOut)
async def clarity(
    request_id: RequestId, body: ClarityIn, deps: DepsDep, member: MemberDep
) -> RatingOut:
    return RatingOut.of(
        await ratings.rate_clarity(request_id, body.stars, member=member, deps=deps)
    )


@router.get(
    "/departments/{department_id}/ratings",
    response_model=list[RatingOut],
    dependencies=[Depends(strict_query("limit"))],
)
async def department_ratings(
    department_id: RequestId,
    deps: DepsDep,
    member: MemberDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[RatingOut]:
    found = await ratings.department_ratings(department_id, member=member, deps=deps, limit=limit)
    return [RatingOut.of(r) for r in found]
