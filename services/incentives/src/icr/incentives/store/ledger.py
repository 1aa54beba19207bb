"""The ledger: one document per entry, its id the entry's unique key, its event in its outbox.

`one_entry_per_source` is the exactly-once guarantee: a UNIQUE index on (source event, rule,
account) in the ledger itself. Whatever Kafka redelivers or a replay brings back, years later,
the second insert of an entry fails with a duplicate key and pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.contracts import Event
from icr.contracts.incentives import BoardLine, LeaderboardChanged, PointsAwarded, PointsRevoked
from icr.incentives.domain.ledger import Entry, Kind
from icr.kit.coalesce import Coalescer
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import Outbox
from icr.kit.scheduler import due_index

LEDGER = "ledger"
_Row = tuple[Document, list[Document]]
"""An entry's document and its outbox entries."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PROJECT_DUE = "project_due"
LEDGER_INDEXES = [
    IndexModel(
        [("source_event_id", ASCENDING), ("rule_id", ASCENDING), ("account", ASCENDING)],
        name="one_entry_per_source",
        unique=True,
    ),
    IndexModel([("account", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)], name="history"),
    IndexModel([("request_id", ASCENDING)], name="by_request"),
    IndexModel([("trigger", ASCENDING), ("at", ASCENDING)], name="by_trigger_time"),
    due_index(PROJECT_DUE),
]
_FIELDS = (
    "account",
    "department_id",
    "amount",
    "reason",
    "source_event_id",
    "rule_id",
    "policy_version",
    "at",
    "request_id",
    "round",
    "trigger",
    "revokes",
    "hold_id",
    "pair",
)


def entry_to_doc(entry: Entry) -> Document:
    return {"_id": entry.id, "kind": str(entry.kind), **{f: getattr(entry, f) for f in _FIELDS}}


def entry_from_doc(doc: Document) -> Entry:
    fields: dict[str, Any] = {f: doc.get(f) for f in _FIELDS}
    return Entry(kind=Kind(doc["kind"]), id=doc["_id"], **fields)


def entry_events(entry: Entry) -> list[Event]:
    """What the entry publishes: its points (debits and refunds are told by the redemption's
    events) and the leaderboard lines it moved."""
    events: list[Event] = []
    if entry.kind == Kind.REVOKE:
        events.append(PointsRevoked(**_fields(entry), revokes=entry.revokes or ""))
    elif entry.kind in (Kind.AWARD, Kind.RECOGNITION):
        events.append(PointsAwarded(**_fields(entry)))
    lines = entry.board_lines()
    if lines:
        events.append(
            LeaderboardChanged(
                entry_id=entry.id,
                lines=[BoardLine(board=b, period=p, subject_id=s) for b, p, s in lines],
                points=entry.amount,
                changed_at=entry.at,
            )
        )
    return events


def _fields(entry: Entry) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "account": entry.account,
        "department_id": entry.department_id,
        "amount": entry.amount,
        "reason": entry.reason,
        "source_event_id": entry.source_event_id,
        "rule_id": entry.rule_id,
        "policy_version": entry.policy_version,
        "request_id": entry.request_id,
        "at": entry.at,
    }


class LedgerStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.collection = mongo.collection(LEDGER)
        self.outbox = outbox
        # Concurrent handlers' appends and timer clears, one round trip each (`Coalescer`).
        self._append: Coalescer[list[_Row], set[str]] = Coalescer(self._append_rows)
        self._projected: Coalescer[list[str], None] = Coalescer(self._projected_ids)

    async def append(self, entry: Entry, *, project_due: datetime) -> bool:
        doc = {**entry_to_doc(entry), "recorded_at": datetime.now(UTC), PROJECT_DUE: project_due}
        try:
            await self.outbox.insert(self.collection, doc, entry_events(entry))
        except DuplicateKeyError:
            return False
        return True

    async def append_many(self, entries: Sequence[Entry], *, project_due: datetime) -> set[str]:
        """All the entries (and their events) in one round trip; the ids that were new. Each
        entry is still one document with its events, refused alone by the unique key."""
        now = datetime.now(UTC)
        # Each entry's events are built here, in the handler's context (its trace and cause),
        # not in the coalesced flush, which runs in the context of whichever call came first.
        rows = [
            (
                {**entry_to_doc(e), "recorded_at": now, PROJECT_DUE: project_due},
                self.outbox.entries(entry_events(e)),
            )
            for e in entries
        ]
        return await self._append(rows) if rows else set()

    async def _append_rows(self, calls: Sequence[list[_Row]]) -> list[set[str]]:
        """The entries of several calls in one insert, each refused alone by the unique key.
        An entry in two calls (a reopen and a recovery revoking one award at once) goes in
        once, for the first of them: the others are told it exists, as the store would."""
        first: dict[str, int] = {}
        unique: list[_Row] = []
        for n, rows in enumerate(calls):
            for row in rows:
                if first.setdefault(row[0]["_id"], n) == n:
                    unique.append(row)
        inserted: set[str] = await self.outbox.insert_built(self.collection, unique)
        return [
            {doc["_id"] for doc, _ in rows if doc["_id"] in inserted and first[doc["_id"]] == n}
            for n, rows in enumerate(calls)
        ]

    async def get(self, entry_id: str) -> Entry | None:
        doc = await self.collection.find_one({"_id": entry_id})
        return None if doc is None else entry_from_doc(doc)

    async def projected(self, entry_id: str) -> None:
        await self.collection.update_one({"_id": entry_id}, {"$set": {PROJECT_DUE: None}})

    async def projected_many(self, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            await self._projected(list(entry_ids))

    async def _projected_ids(self, calls: Sequence[list[str]]) -> list[None]:
        ids = sorted({i for entry_ids in calls for i in entry_ids})
        await self.collection.update_many({"_id": {"$in": ids}}, {"$set": {PROJECT_DUE: None}})
        return [None] * len(calls)

    async def for_request(self, request_id: str) -> list[Entry]:
        return await self.for_requests([request_id])

    async def for_requests(self, request_ids: Iterable[str]) -> list[Entry]:
        docs = self.collection.find({"request_id": {"$in": list(request_ids)}})
        return [entry_from_doc(d) async for d in docs]

    async def history(
        self, account: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[Entry]:
        query: Document = {"account": account}
        if before is not None:
            at, last_id = before
            query["$or"] = [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": last_id}}]
        docs = self.collection.find(
            query, sort=[("account", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]
        ).limit(limit)
        return [entry_from_doc(d) async for d in docs]

    async def request_entries_between(self, start: datetime, end: datetime) -> list[Entry]:
        docs = self.collection.find(
            {"trigger": {"$in": ["resolution", "rating_given"]}, "at": {"$gte": start, "$lt": end}}
        )
        return [entry_from_doc(d) async for d in docs]

    async def sums(self) -> dict[str, int]:
        pipeline: list[Document] = [{"$group": {"_id": "$account", "total": {"$sum": "$amount"}}}]
        return {d["_id"]: d["total"] async for d in await self.collection.aggregate(pipeline)}

    async def uncounted(self) -> int:
        return await self.collection.count_documents({PROJECT_DUE: {"$gte": _EPOCH}})

    async def all_entries(self) -> list[Entry]:
        """Every entry (audits and the invariant tests; not a hot path)."""
        return [entry_from_doc(d) async for d in self.collection.find({}).sort("_id", ASCENDING)]
