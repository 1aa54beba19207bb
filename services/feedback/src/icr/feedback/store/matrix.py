"""The department matrix projection: request counts per period and department pair, and one
document per request (its pair, when each resolution happened, whether and since when it is
open), built from the requests service's events and rebuilt by replaying them.

Counts are added with `apply_once` per event id; a request's document is written only by an
event of a later position in its aggregate (`sequence`), so a redelivery, even one older than
the last 500 ids a count remembers, finds the request already past it and changes nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.feedback.domain.matrix import OpenRequests, Pair, PairCounts
from icr.kit.mongo import Document, Mongo, apply_once
from icr.kit.periods import PeriodKind, bounds, keys_of

MATRIX = "matrix"
MATRIX_REQUESTS = "matrix_requests"
COUNTS = ("submitted", "resolved", "resolved_met", "reopened", "closed", "cancelled", "rejected")
INDEXES = {
    MATRIX: [
        IndexModel(
            [("period", ASCENDING), ("period_key", ASCENDING), ("provider_department_id", 1)],
            name="by_period",
        )
    ],
    MATRIX_REQUESTS: [
        # The open backlog: every open request, grouped by pair at read time.
        IndexModel(
            [("open", ASCENDING), ("provider_department_id", 1), ("consumer_department_id", 1)],
            name="open_by_pair",
        )
    ],
}


def matrix_id(kind: PeriodKind | str, key: str, provider: str, consumer: str) -> str:
    return f"{kind}|{key}|{provider}|{consumer}"


@dataclass(frozen=True)
class TrackedRequest:
    request_id: str
    provider_department_id: str
    consumer_department_id: str
    sequence: int
    open: bool
    resolutions: dict[int, datetime] = field(default_factory=dict)  # round -> resolved at


class MatrixStore:
    def __init__(self, mongo: Mongo) -> None:
        self.cells_collection = mongo.collection(MATRIX)
        self.requests = mongo.collection(MATRIX_REQUESTS)

    async def count(
        self, *, event_id: str, at: datetime, provider: str, consumer: str, inc: dict[str, int]
    ) -> None:
        """Adds `inc` to the pair's cell of every period containing `at`, once per event."""
        for kind, key in keys_of(at).items():
            start, _ = bounds(kind, key)
            update: Document = {
                "$inc": inc,
                "$setOnInsert": {
                    "period": kind.value,
                    "period_key": key,
                    "period_start": start,
                    "provider_department_id": provider,
                    "consumer_department_id": consumer,
                },
            }
            await apply_once(
                self.cells_collection,
                matrix_id(kind, key, provider, consumer),
                update,
                event_id=event_id,
            )

    async def request(self, request_id: str) -> TrackedRequest | None:
        doc = await self.requests.find_one({"_id": request_id})
        if doc is None:
            return None
        return TrackedRequest(
            request_id=doc["_id"],
            provider_department_id=doc["provider_department_id"],
            consumer_department_id=doc["consumer_department_id"],
            sequence=int(doc.get("sequence", 0)),
            open=bool(doc.get("open")),
            resolutions={int(k): v for k, v in (doc.get("resolutions") or {}).items()},
        )

    async def track(
        self,
        request_id: str,
        *,
        sequence: int,
        provider: str,
        consumer: str,
        open_since: datetime | None,
        resolution: tuple[int, datetime] | None = None,
    ) -> None:
        """Records the request's state after the event at `sequence`, unless a later event
        was recorded already. `open_since` None: not open."""
        set_: Document = {
            "sequence": sequence,
            "provider_department_id": provider,
            "consumer_department_id": consumer,
            "open": open_since is not None,
        }
        update: Document = {"$set": set_}
        if open_since is not None:
            set_["open_since"] = open_since
            set_["open_since_s"] = open_since.timestamp()
        else:
            update["$unset"] = {"open_since": "", "open_since_s": ""}
        if resolution is not None:
            set_[f"resolutions.{resolution[0]}"] = resolution[1]
        guard = {"_id": request_id, "sequence": {"$lt": sequence}}
        # A duplicate key: the request is recorded at this position or later already.
        with contextlib.suppress(DuplicateKeyError):
            await self.requests.update_one(guard, update, upsert=True)

    async def counts(self, kind: PeriodKind, key: str) -> dict[Pair, PairCounts]:
        docs = await self.cells_collection.find(
            {"period": kind.value, "period_key": key},
            projection={"applied_events": 0},
            sort=[("provider_department_id", ASCENDING)],
        ).to_list()
        return {
            (d["provider_department_id"], d["consumer_department_id"]): PairCounts(
                **{name: int(d.get(name, 0)) for name in COUNTS}
            )
            for d in docs
        }

    async def open_now(self) -> dict[Pair, OpenRequests]:
        """The open requests grouped by pair (count, oldest and summed open-since times)."""
        pipeline: list[Document] = [
            {"$match": {"open": True}},
            {
                "$group": {
                    "_id": {
                        "p": "$provider_department_id",
                        "c": "$consumer_department_id",
                    },
                    "count": {"$sum": 1},
                    "oldest": {"$min": "$open_since"},
                    "since_sum": {"$sum": "$open_since_s"},
                }
            },
        ]
        found: dict[Pair, OpenRequests] = {}
        async for row in await self.requests.aggregate(pipeline):
            oldest = row["oldest"]
            if oldest.tzinfo is None:  # a store that hands back naive UTC
                oldest = oldest.replace(tzinfo=UTC)
            found[(row["_id"]["p"], row["_id"]["c"])] = OpenRequests(
                count=int(row["count"]), oldest_since=oldest, since_sum_seconds=row["since_sum"]
            )
        return found
