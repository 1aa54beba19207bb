"""The per-request facts settlement waits on; one versioned document per request."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.incentives.domain.settlement import RatingOutcome, RequestFacts, Resolution
from icr.incentives.handlers.ports import Versioned
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import ConcurrentUpdate
from icr.kit.scheduler import due_index

FACTS = "request_facts"
SETTLE_DUE = "settle_due"
FACT_INDEXES = [
    due_index(SETTLE_DUE),
    IndexModel([("resolution.resolved_at", ASCENDING)], name="resolved_at"),
]


def _resolution(doc: dict[str, Any] | None) -> Resolution | None:
    return None if doc is None else Resolution(**doc)


def _rating(doc: dict[str, Any] | None) -> RatingOutcome | None:
    return None if doc is None else RatingOutcome(**doc)


def facts_to_doc(f: RequestFacts) -> Document:
    return {
        "requester_id": f.requester_id,
        "requester_department_id": f.requester_department_id,
        "provider_department_id": f.provider_department_id,
        "status": f.status,
        "submitted_at": f.submitted_at,
        "round": f.round,
        "resolution": None if f.resolution is None else vars(f.resolution),
        "rating": None if f.rating is None else vars(f.rating),
        "recovery_needed": f.recovery_needed,
        "recovery_event_id": f.recovery_event_id,
        "settled_round": f.settled_round,
        SETTLE_DUE: f.settle_due,
    }


def facts_from_doc(doc: Document) -> RequestFacts:
    return RequestFacts(
        request_id=doc["_id"],
        requester_id=doc["requester_id"],
        requester_department_id=doc["requester_department_id"],
        provider_department_id=doc["provider_department_id"],
        status=doc["status"],
        submitted_at=doc.get("submitted_at"),
        round=doc["round"],
        resolution=_resolution(doc.get("resolution")),
        rating=_rating(doc.get("rating")),
        recovery_needed=doc["recovery_needed"],
        recovery_event_id=doc.get("recovery_event_id", ""),
        settled_round=doc.get("settled_round"),
        settle_due=doc.get(SETTLE_DUE),
    )


class FactStore:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(FACTS)

    async def get(self, request_id: str) -> Versioned[RequestFacts] | None:
        doc = await self.collection.find_one({"_id": request_id})
        return None if doc is None else Versioned(facts_from_doc(doc), doc["version"])

    async def add(self, facts: RequestFacts) -> None:
        try:
            await self.collection.insert_one(
                {"_id": facts.request_id, **facts_to_doc(facts), "version": 1}
            )
        except DuplicateKeyError:
            raise ConcurrentUpdate(f"facts of {facts.request_id} created meanwhile") from None

    async def save(self, facts: Versioned[RequestFacts]) -> None:
        result = await self.collection.update_one(
            {"_id": facts.value.request_id, "version": facts.version},
            {"$set": {**facts_to_doc(facts.value), "version": facts.version + 1}},
        )
        if result.matched_count == 0:
            raise ConcurrentUpdate(f"facts of {facts.value.request_id} changed meanwhile")
        facts.version += 1

    async def by_ids(self, request_ids: Iterable[str]) -> list[RequestFacts]:
        docs = self.collection.find({"_id": {"$in": list(request_ids)}})
        return [facts_from_doc(d) async for d in docs]

    async def resolved_between(self, start: datetime, end: datetime) -> list[RequestFacts]:
        docs = self.collection.find({"resolution.resolved_at": {"$gte": start, "$lt": end}})
        return [facts_from_doc(d) async for d in docs]
