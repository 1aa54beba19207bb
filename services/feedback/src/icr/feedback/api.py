"""HTTP API of the feedback service; routes only delegate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from icr.feedback.domain import Rating
from icr.feedback.store import RatingStore
from icr.kit.service import runtime_of

router = APIRouter(prefix="/ratings", tags=["ratings"])

MAX_IDS = 200


class RatingOut(BaseModel):
    request_id: str
    rater_id: str
    provider_department_id: str
    status: str
    requested_at: datetime

    @classmethod
    def of(cls, rating: Rating) -> RatingOut:
        return cls(
            request_id=rating.request_id,
            rater_id=rating.rater_id,
            provider_department_id=rating.provider_department_id,
            status=rating.status.value,
            requested_at=rating.requested_at,
        )


def store(request: Request) -> RatingStore:
    runtime = runtime_of(request)
    return RatingStore(runtime.mongo, runtime.outbox)


@router.get("", response_model=list[RatingOut])
async def ratings_by_request(
    request: Request,
    request_id: Annotated[list[str], Query(min_length=1, max_length=MAX_IDS)],
) -> list[RatingOut]:
    """Batch read by request ids, so the gateway makes one call per GraphQL query."""
    return [RatingOut.of(r) for r in await store(request).by_request_ids(request_id)]
