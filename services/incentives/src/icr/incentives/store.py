"""The incentives service's projection of service requests, rebuilt from request events.

Points will be earned from request outcomes, so the service keeps its own view of each request
(who asked, which department serves it, where it stands) instead of asking the requests service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING, IndexModel

from icr.kit.mongo import Document, Mongo, apply_once

TRACKED_REQUESTS = "tracked_requests"
INDEXES = {TRACKED_REQUESTS: [IndexModel([("provider_department_id", ASCENDING)])]}


@dataclass(frozen=True)
class TrackedRequest:
    request_id: str
    requester_id: str
    provider_department_id: str
    status: str
    submitted_at: datetime
    events_applied: int


class TrackedRequestStore:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(TRACKED_REQUESTS)

    async def record_submitted(
        self,
        *,
        event_id: str,
        request_id: str,
        requester_id: str,
        provider_department_id: str,
        submitted_at: datetime,
    ) -> bool:
        """Upserts the request; True if this event changed it (False for a redelivery)."""
        return await apply_once(
            self.collection,
            request_id,
            {
                "$set": {
                    "requester_id": requester_id,
                    "provider_department_id": provider_department_id,
                    "submitted_at": submitted_at,
                    "status": "submitted",
                },
                "$inc": {"events_applied": 1},
            },
            event_id=event_id,
        )

    async def by_ids(self, request_ids: Sequence[str]) -> list[TrackedRequest]:
        docs = await self.collection.find({"_id": {"$in": list(request_ids)}}).to_list()
        return [_from_doc(d) for d in docs]


def _from_doc(doc: Document) -> TrackedRequest:
    return TrackedRequest(
        request_id=doc["_id"],
        requester_id=doc["requester_id"],
        provider_department_id=doc["provider_department_id"],
        status=doc["status"],
        submitted_at=doc["submitted_at"],
        events_applied=doc.get("events_applied", 0),
    )
