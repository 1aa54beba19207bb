"""The per-request facts settlement waits on; one versioned document per request."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.errors import BulkWriteError

from icr.incentives.domain.settlement import RatingOutcome, RequestFacts, Resolution
from icr.incentives.handlers.ports import Versioned
from icr.kit.coalesce import Coalescer
from icr.kit.mongo import Document, Mongo, refused_as_duplicates
from icr.kit.outbox import ConcurrentUpdate
from icr.kit.scheduler import due_index

FACTS = "request_facts"
SETTLE_DUE = "settle_due"
WRITER = "writer"
"""The token of the save that wrote the document last (which of a bulk write's saves matched)."""
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
    """Reads and versioned writes of the facts; concurrent handlers' calls go in one round
    trip each (`Coalescer`): gets as one `$in` read, adds as one unordered insert (a duplicate
    refused alone), saves as one unordered bulk write, each still guarded by its version."""

    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(FACTS)
        self._get: Coalescer[str, Versioned[RequestFacts] | None] = Coalescer(self._get_many)
        self._add: Coalescer[RequestFacts, None] = Coalescer(self._add_many)
        self._save: Coalescer[Versioned[RequestFacts], None] = Coalescer(self._save_many)

    async def get(self, request_id: str) -> Versioned[RequestFacts] | None:
        return await self._get(request_id)

    async def add(self, facts: RequestFacts) -> None:
        """ConcurrentUpdate if another writer created it first."""
        await self._add(facts)

    async def save(self, facts: Versioned[RequestFacts]) -> None:
        """ConcurrentUpdate (and nothing written) if its version changed meanwhile."""
        await self._save(facts)
        facts.version += 1

    async def _get_many(self, request_ids: Sequence[str]) -> list[Versioned[RequestFacts] | None]:
        docs = self.collection.find({"_id": {"$in": sorted(set(request_ids))}})
        found = {d["_id"]: d async for d in docs}
        # Each caller its own copy: two handlers of one request must not share one object.
        return [
            None if (d := found.get(i)) is None else Versioned(facts_from_doc(d), d["version"])
            for i in request_ids
        ]

    async def _add_many(self, many: Sequence[RequestFacts]) -> list[BaseException | None]:
        docs = [{"_id": f.request_id, **facts_to_doc(f), "version": 1} for f in many]
        try:
            await self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            refused = refused_as_duplicates(exc)
            return [
                ConcurrentUpdate(f"facts of {f.request_id} created meanwhile")
                if n in refused
                else None
                for n, f in enumerate(many)
            ]
        return [None] * len(many)

    async def _save_many(
        self, many: Sequence[Versioned[RequestFacts]]
    ) -> list[BaseException | None]:
        """Each save matches only its version. A bulk write tells how many matched, not which:
        each carries a token of its own, read back (rarely: only when some did not match)."""
        tokens = [secrets.token_hex(8) for _ in many]
        ops = [
            UpdateOne(
                {"_id": f.value.request_id, "version": f.version},
                {"$set": {**facts_to_doc(f.value), "version": f.version + 1, WRITER: token}},
            )
            for f, token in zip(many, tokens, strict=True)
        ]
        result = await self.collection.bulk_write(ops, ordered=False)
        if result.matched_count == len(ops):
            return [None] * len(many)
        ids = [f.value.request_id for f in many]
        docs = self.collection.find({"_id": {"$in": ids}}, projection={WRITER: 1})
        written = {d["_id"]: d.get(WRITER) async for d in docs}
        return [
            None
            if written.get(f.value.request_id) == token
            else ConcurrentUpdate(f"facts of {f.value.request_id} changed meanwhile")
            for f, token in zip(many, tokens, strict=True)
        ]

    async def by_ids(self, request_ids: Iterable[str]) -> list[RequestFacts]:
        docs = self.collection.find({"_id": {"$in": list(request_ids)}})
        return [facts_from_doc(d) async for d in docs]

    async def resolved_between(self, start: datetime, end: datetime) -> list[RequestFacts]:
        docs = self.collection.find({"resolution.resolved_at": {"$gte": start, "$lt": end}})
        return [facts_from_doc(d) async for d in docs]
