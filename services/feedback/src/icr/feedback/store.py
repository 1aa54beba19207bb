"""Where ratings live; the only module that knows their document shape."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.feedback.domain import Rating, RatingStatus
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import Outbox

RATINGS = "ratings"
INDEXES = {RATINGS: [IndexModel([("rater_id", ASCENDING), ("status", ASCENDING)])]}


class RatingStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.collection = mongo.collection(RATINGS)
        self.outbox = outbox

    async def add(self, rating: Rating) -> bool:
        """Saves a new rating with its events; False when one exists for that request."""
        try:
            await self.outbox.insert(self.collection, _to_doc(rating), rating.events)
        except DuplicateKeyError:
            return False
        return True

    async def by_request_ids(self, request_ids: Sequence[str]) -> list[Rating]:
        docs = await self.collection.find({"_id": {"$in": list(request_ids)}}).to_list()
        return [_from_doc(d) for d in docs]


def _to_doc(rating: Rating) -> Document:
    return {
        "_id": rating.request_id,
        "rater_id": rating.rater_id,
        "provider_department_id": rating.provider_department_id,
        "requested_at": rating.requested_at,
        "status": rating.status.value,
    }


def _from_doc(doc: Document) -> Rating:
    return Rating(
        request_id=doc["_id"],
        rater_id=doc["rater_id"],
        provider_department_id=doc["provider_department_id"],
        requested_at=doc["requested_at"],
        status=RatingStatus(doc["status"]),
    )
