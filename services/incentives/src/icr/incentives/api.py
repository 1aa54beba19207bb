"""HTTP API of the incentives service; routes only delegate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from icr.incentives.store import TrackedRequest, TrackedRequestStore
from icr.kit.service import runtime_of

router = APIRouter(prefix="/tracked-requests", tags=["tracked requests"])

MAX_IDS = 200


class TrackedRequestOut(BaseModel):
    request_id: str
    requester_id: str
    provider_department_id: str
    status: str
    submitted_at: datetime

    @classmethod
    def of(cls, tracked: TrackedRequest) -> TrackedRequestOut:
        return cls(
            request_id=tracked.request_id,
            requester_id=tracked.requester_id,
            provider_department_id=tracked.provider_department_id,
            status=tracked.status,
            submitted_at=tracked.submitted_at,
        )


@router.get("", response_model=list[TrackedRequestOut])
async def tracked_requests(
    request: Request,
    request_id: Annotated[list[str], Query(min_length=1, max_length=MAX_IDS)],
) -> list[TrackedRequestOut]:
    """Batch read of the incentives projection by request ids."""
    store = TrackedRequestStore(runtime_of(request).mongo)
    return [TrackedRequestOut.of(t) for t in await store.by_ids(request_id)]
