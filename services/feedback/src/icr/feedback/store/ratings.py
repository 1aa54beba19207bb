"""Ratings: one document per request, its events in the same write (outbox), its timer field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.feedback.domain.errors import Conflict
from icr.feedback.domain.rating import Rating, RatingStatus
from icr.feedback.store.base import Versioned
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import OUTBOX, Outbox
from icr.kit.scheduler import due_index

RATINGS = "ratings"
DUE = "due_at"

INDEXES = {
    RATINGS: [
        IndexModel([("rater_id", ASCENDING), ("requested_at", DESCENDING)], name="by_rater"),
        IndexModel(
            [("provider_department_id", ASCENDING), ("requested_at", DESCENDING)],
            name="by_provider",
        ),
        IndexModel([("recovery_request_id", ASCENDING)], name="by_recovery"),
        due_index(DUE),
    ]
}

_NO_OUTBOX = {OUTBOX: 0}


class RatingStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.collection = mongo.collection(RATINGS)
        self.outbox = outbox

    async def get(self, request_id: str) -> Versioned[Rating] | None:
        doc = await self.collection.find_one({"_id": request_id}, projection=_NO_OUTBOX)
        return None if doc is None else Versioned(_from_doc(doc), doc["version"])

    async def add(self, rating: Rating) -> None:
        """Inserts a new rating with its events; Conflict when the request has one already."""
        try:
            await self.outbox.insert(self.collection, _to_doc(rating), rating.pull_events())
        except DuplicateKeyError:
            raise Conflict(f"request {rating.request_id} has a rating already") from None

    async def save(self, rating: Versioned[Rating]) -> None:
        doc = _to_doc(rating.value)
        del doc["_id"]
        await self.outbox.update(
            self.collection,
            rating.value.request_id,
            rating.version,
            doc,
            rating.value.pull_events(),
        )

    async def by_request_ids(self, request_ids: Sequence[str]) -> list[Rating]:
        docs = await self.collection.find(
            {"_id": {"$in": list(request_ids)}}, projection=_NO_OUTBOX
        ).to_list()
        return [_from_doc(d) for d in docs]

    async def by_rater(self, person_id: str, limit: int) -> list[Rating]:
        docs = await self.collection.find(
            {"rater_id": person_id},
            projection=_NO_OUTBOX,
            sort=[("requested_at", DESCENDING)],
            limit=limit,
        ).to_list()
        return [_from_doc(d) for d in docs]

    async def by_provider(self, department_id: str, limit: int) -> list[Rating]:
        docs = await self.collection.find(
            {"provider_department_id": department_id},
            projection=_NO_OUTBOX,
            sort=[("requested_at", DESCENDING)],
            limit=limit,
        ).to_list()
        return [_from_doc(d) for d in docs]

    async def by_recovery_request(self, recovery_request_id: str) -> Versioned[Rating] | None:
        doc = await self.collection.find_one(
            {"recovery_request_id": recovery_request_id}, projection=_NO_OUTBOX
        )
        return None if doc is None else Versioned(_from_doc(doc), doc["version"])


_FIELDS = (
    "resolution",
    "rater_id",
    "rater_department_id",
    "provider_department_id",
    "assignee_id",
    "requested_at",
    "expires_at",
    "remind_at",
    "reminded_at",
    "skip_reason",
    "stars",
    "comment",
    "dimensions",
    "submitted_at",
    "changed_at",
    "expired_at",
    "clarity_stars",
    "clarity_by",
    "clarity_at",
    "recovery_request_id",
    "recovery_resolved_at",
)


def _to_doc(rating: Rating) -> Document:
    doc: Document = {"_id": rating.request_id, "status": rating.status.value, DUE: rating.due_at}
    for name in _FIELDS:
        doc[name] = getattr(rating, name)
    return doc


def _fields(doc: Document) -> dict[str, Any]:
    return {name: doc.get(name) for name in _FIELDS if name != "dimensions"}


def _from_doc(doc: Document) -> Rating:
    return Rating(
        request_id=doc["_id"],
        status=RatingStatus(doc["status"]),
        **_fields(doc),
        dimensions=dict(doc.get("dimensions") or {}),
    )
