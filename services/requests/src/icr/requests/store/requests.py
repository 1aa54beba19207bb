"""Service requests: the aggregate documents, their queries, indexes and timer fields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, IndexModel

from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import OUTBOX, PENDING, Outbox
from icr.kit.scheduler import due_index
from icr.requests.domain.lifecycle import LifecyclePolicy
from icr.requests.domain.request import ServiceRequest
from icr.requests.store.base import Versioned
from icr.requests.store.query import RequestQuery, build_filter, encode_cursor, sort_spec
from icr.requests.store.request_codec import (
    AUTO_CLOSE_DUE,
    SLA_DUE,
    request_from_doc,
    request_to_doc,
)

REQUESTS = "requests"

# The department queue (provider + status, newest first or soonest due) is the hot path; the
# others serve "my requests", "my department's requests elsewhere", "assigned to me" and the
# parent's view of its sub-requests. Every index ends with _id, the keyset tiebreaker.
INDEXES = {
    REQUESTS: [
        IndexModel(
            [
                ("provider_department_id", ASCENDING),
                ("status", ASCENDING),
                ("submitted_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="queue_by_created",
        ),
        IndexModel(
            [("provider_department_id", ASCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)],
            name="queue_by_due",
        ),
        IndexModel(
            [("requester_id", ASCENDING), ("submitted_at", DESCENDING), ("_id", DESCENDING)],
            name="by_requester",
        ),
        IndexModel(
            [
                ("requester_department_id", ASCENDING),
                ("submitted_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="by_consumer",
        ),
        IndexModel([("assignee_id", ASCENDING), ("status", ASCENDING)], name="by_assignee"),
        IndexModel([("parent_id", ASCENDING)], name="by_parent"),
        due_index(SLA_DUE),
        due_index(AUTO_CLOSE_DUE),
    ]
}

# What listing never needs: the conversation, the audit trail and the outbox.
_SUMMARY_PROJECTION = {"comments": 0, "history": 0, OUTBOX: 0}


@dataclass(frozen=True)
class Page:
    items: list[ServiceRequest]
    next_cursor: str | None


class RequestStore:
    def __init__(self, mongo: Mongo, outbox: Outbox, policy: LifecyclePolicy) -> None:
        self.collection = mongo.collection(REQUESTS)
        self.outbox = outbox
        self.policy = policy

    async def get(self, request_id: str) -> Versioned[ServiceRequest] | None:
        doc = await self.collection.find_one({"_id": request_id}, projection={OUTBOX: 0})
        return None if doc is None else Versioned(request_from_doc(doc), doc["version"])

    async def by_ids(self, ids: Iterable[str]) -> list[ServiceRequest]:
        wanted = sorted(set(ids))
        docs = await self.collection.find(
            {"_id": {"$in": wanted}}, projection=_SUMMARY_PROJECTION
        ).to_list()
        return [request_from_doc(d) for d in docs]

    async def children_of(self, parent_id: str) -> list[ServiceRequest]:
        """The parent link lives on the child, so this is the truth about who is a child."""
        docs = await self.collection.find(
            {"parent_id": parent_id},
            projection=_SUMMARY_PROJECTION,
            sort=[("submitted_at", ASCENDING), ("_id", ASCENDING)],
        ).to_list()
        return [request_from_doc(d) for d in docs]

    async def add(self, request: ServiceRequest) -> None:
        """Insert a new request with the events it recorded."""
        doc = {"_id": request.id, **request_to_doc(request, self.policy)}
        await self.outbox.insert(self.collection, doc, request.pull_events())

    async def save(self, request: Versioned[ServiceRequest]) -> int:
        """Write the aggregate and its new events if nobody wrote since it was read; returns
        the new version. Raises ConcurrentUpdate otherwise."""
        fields = request_to_doc(request.value, self.policy)
        events = request.value.pull_events()
        await self.outbox.update(self.collection, request.value.id, request.version, fields, events)
        return request.version + 1

    async def list(self, query: RequestQuery) -> Page:
        docs = await self.collection.find(
            build_filter(query),
            projection=_SUMMARY_PROJECTION,
            sort=sort_spec(query),
            limit=query.limit + 1,
        ).to_list()
        more = len(docs) > query.limit
        docs = docs[: query.limit]
        cursor = encode_cursor(query, docs[-1]) if more and docs else None
        return Page([request_from_doc(d) for d in docs], cursor)

    async def explain_list(self, query: RequestQuery) -> Document:
        """The server's query plan for a listing (benchmarks and diagnostics)."""
        cursor = self.collection.find(
            build_filter(query), sort=sort_spec(query), limit=query.limit + 1
        )
        return await cursor.explain()

    async def bulk_insert(self, requests: Sequence[ServiceRequest]) -> None:
        """Load requests without events (seeding and benchmarks only: nothing is published)."""
        if not requests:
            return
        docs = [
            {
                "_id": r.id,
                **request_to_doc(r, self.policy),
                "version": 1,
                OUTBOX: [],
                PENDING: False,
            }
            for r in requests
        ]
        await self.collection.insert_many(docs, ordered=False)
