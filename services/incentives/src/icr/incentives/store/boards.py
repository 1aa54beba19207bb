"""Leaderboards (people and departments by month, quarter and all time) and award caps.

A line is a document with its points and the entry ids it counted (the last 500): an entry is
added to all its lines in one bulk write of guarded `$inc`s, each matching only if the line has
not counted that entry yet, so a second count changes nothing and concurrent entries never
contend (no read, no version). The entry's own `LeaderboardChanged` event says which lines it
moved, published with the entry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from icr.incentives.domain.ledger import Entry
from icr.incentives.handlers.ports import BoardLine
from icr.incentives.store.bulk import KEEP, CoalescedApply
from icr.kit.coalesce import Coalescer
from icr.kit.mongo import Document, Mongo, refused_as_duplicates

BOARDS = "leaderboard"
_Take = tuple[str, list[str], int, int]
"""(cap key, entry ids, their total, the limit) of a `take_many` first try."""
CAPS = "award_caps"
BOARD_INDEXES = [
    IndexModel(
        [("board", ASCENDING), ("period", ASCENDING), ("points", DESCENDING), ("_id", ASCENDING)],
        name="top",
    )
]


def line_id(board: str, period: str, subject_id: str) -> str:
    return f"{board}:{period}:{subject_id}"


def _line(doc: Document) -> BoardLine:
    return BoardLine(doc["board"], doc["period"], doc["subject_id"], doc["points"])


def _count(entry: Entry, board: str, period: str, subject: str) -> tuple[str, Document]:
    key = line_id(board, period, subject)
    return key, {
        "$inc": {"points": entry.amount},
        "$set": {"board": board, "period": period, "subject_id": subject},
    }


class BoardStore:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(BOARDS)
        self._apply = CoalescedApply(self.collection)

    async def apply(self, entry: Entry) -> None:
        await self.apply_many([entry])

    async def apply_many(self, entries: Sequence[Entry]) -> None:
        """Counts every entry into all its lines in one bulk write of guarded `$inc`s."""
        await self._apply([(*_count(e, *line), e.id) for e in entries for line in e.board_lines()])

    async def top(self, board: str, period: str, limit: int) -> list[BoardLine]:
        docs = self.collection.find(
            {"board": board, "period": period},
            sort=[("board", ASCENDING), ("period", ASCENDING), ("points", DESCENDING)],
        ).limit(limit)
        return [_line(d) async for d in docs]

    async def line(self, board: str, period: str, subject_id: str) -> BoardLine | None:
        doc = await self.collection.find_one({"_id": line_id(board, period, subject_id)})
        return None if doc is None else _line(doc)


class CapStore:
    """Points paid per cap key (month and department pair), each entry counted once."""

    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(CAPS)
        self._take_all: Coalescer[_Take, bool] = Coalescer(self._take_all_many)

    async def take_many(self, key: str, amounts: Sequence[tuple[str, int]], limit: int) -> set[str]:
        """`take` for several entries under one key; the ids counted. First all together in one
        guarded upsert (the usual case: none counted before, room for all); else one by one, in
        order, each all or nothing."""
        ids, total = [i for i, _ in amounts], sum(a for _, a in amounts)
        if ids and total <= limit and await self._take_all((key, ids, total, limit)):
            return set(ids)
        # The counter refused the lot: one by one tells which fit.
        return {i for i, a in amounts if await self.take(key, i, a, limit)}

    async def _take_all_many(self, calls: Sequence[_Take]) -> list[bool]:
        """Several `take_many` first tries in one unordered bulk write: each a guarded upsert of
        its key, which either counts the lot (matched, or created the counter) or fails on the
        existing counter's `_id` with a duplicate key (that call goes one by one)."""
        ops = [
            UpdateOne(
                {"_id": key, "used": {"$lte": limit - total}, "applied": {"$nin": ids}},
                {"$inc": {"used": total}, "$push": {"applied": {"$each": ids, "$slice": -KEEP}}},
                upsert=True,
            )
            for key, ids, total, limit in calls
        ]
        try:
            await self.collection.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            refused = refused_as_duplicates(exc)
            return [n not in refused for n in range(len(calls))]
        return [True] * len(calls)

    async def take(self, key: str, entry_id: str, amount: int, limit: int) -> bool:
        if amount > limit:
            return False
        guarded = {"_id": key, "used": {"$lte": limit - amount}, "applied": {"$ne": entry_id}}
        update = {
            "$inc": {"used": amount},
            "$push": {"applied": {"$each": [entry_id], "$slice": -KEEP}},
        }
        if (await self.collection.update_one(guarded, update)).modified_count:
            return True
        doc = await self.collection.find_one({"_id": key}, projection={"applied": 1})
        if doc is None:
            # The month's first award for this pair: create the counter, then count.
            with contextlib.suppress(DuplicateKeyError):
                await self.collection.insert_one({"_id": key, "used": 0, "applied": []})
            if (await self.collection.update_one(guarded, update)).modified_count:
                return True
            doc = await self.collection.find_one({"_id": key}, projection={"applied": 1})
        return doc is not None and entry_id in doc.get("applied", [])
