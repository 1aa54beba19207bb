"""Leaderboards (people and departments by month, quarter and all time) and award caps.

A line is a document with its points and the entry ids it counted (the last 500): an entry is
added to all its lines in one bulk write of guarded `$inc`s, each matching only if the line has
not counted that entry yet, so a second count changes nothing and concurrent entries never
contend (no read, no version). The entry's own `LeaderboardChanged` event says which lines it
moved, published with the entry.
"""

from __future__ import annotations

import contextlib

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from icr.incentives.domain.ledger import Entry
from icr.incentives.handlers.ports import BoardLine
from icr.kit.mongo import Document, Mongo, apply_once

BOARDS = "leaderboard"
CAPS = "award_caps"
KEEP = 500
BOARD_INDEXES = [
    IndexModel(
        [("board", ASCENDING), ("period", ASCENDING), ("points", DESCENDING), ("_id", ASCENDING)],
        name="top",
    )
]
_DUPLICATE_KEY = 11000


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

    async def apply(self, entry: Entry) -> None:
        counts = [_count(entry, *line) for line in entry.board_lines()]
        statements = [
            UpdateOne(
                {"_id": key, "applied_events": {"$ne": entry.id}},
                {**update, "$push": {"applied_events": {"$each": [entry.id], "$slice": -KEEP}}},
                upsert=True,
            )
            for key, update in counts
        ]
        if not statements:
            return
        try:
            await self.collection.bulk_write(statements, ordered=False)
        except BulkWriteError as exc:
            # A duplicate key: the line exists and either counted this entry already, or was
            # created by another entry a moment ago. One guarded update each tells them apart.
            failed = {e["index"] for e in exc.details.get("writeErrors", [])}
            if any(e.get("code") != _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            for index in sorted(failed):
                key, update = counts[index]
                await apply_once(self.collection, key, update, event_id=entry.id)

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
