"""Leaderboards (people and departments by month, quarter and all time) and award caps.

A line is a document with its points, the entry ids it counted (the last 500) and an outbox:
each change publishes `LeaderboardChanged` with the new total in the same write, for the
gateway's live views. Lines change by read-decide-write on the line's version, so concurrent
entries never lose an update, and an entry already counted is never counted again.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.contracts.incentives import LeaderboardChanged
from icr.incentives.domain.ledger import Entry, is_department
from icr.incentives.domain.periods import periods_of
from icr.incentives.handlers.ports import BoardLine
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import ConcurrentUpdate, Outbox

BOARDS = "leaderboard"
CAPS = "award_caps"
KEEP = 500
BOARD_INDEXES = [
    IndexModel(
        [("board", ASCENDING), ("period", ASCENDING), ("points", DESCENDING), ("_id", ASCENDING)],
        name="top",
    )
]
PEOPLE, DEPARTMENTS = "people", "departments"


def line_id(board: str, period: str, subject_id: str) -> str:
    return f"{board}:{period}:{subject_id}"


def lines_of(entry: Entry) -> list[tuple[str, str, str]]:
    """(board, period, subject) of every line an earning entry counts in."""
    out = []
    for period in periods_of(entry.at):
        if not is_department(entry.account):
            out.append((PEOPLE, period, entry.account))
        out.append((DEPARTMENTS, period, entry.department_id))
    return out


def _line(doc: Document) -> BoardLine:
    return BoardLine(doc["board"], doc["period"], doc["subject_id"], doc["points"])


class BoardStore:
    def __init__(self, mongo: Mongo, outbox: Outbox, *, retries: int = 50) -> None:
        self.collection = mongo.collection(BOARDS)
        self.outbox = outbox
        self.retries = retries

    async def apply(self, entry: Entry) -> None:
        for board, period, subject in lines_of(entry):
            await self._count(entry, board, period, subject)

    async def _count(self, entry: Entry, board: str, period: str, subject: str) -> None:
        key = line_id(board, period, subject)
        for _ in range(self.retries):
            doc = await self.collection.find_one({"_id": key})
            if doc is not None and entry.id in doc.get("applied", []):
                return
            points = (doc["points"] if doc else 0) + entry.amount
            event = LeaderboardChanged(
                line_id=key,
                board=board,
                period=period,
                subject_id=subject,
                points=points,
                changed_at=datetime.now(UTC),
            )
            try:
                if doc is None:
                    fields = {"board": board, "period": period, "subject_id": subject}
                    new = {"_id": key, **fields, "points": points, "applied": [entry.id]}
                    await self.outbox.insert(self.collection, new, [event])
                else:
                    await self.outbox.update(
                        self.collection,
                        key,
                        doc["version"],
                        {"points": points},
                        [event],
                        extra={"$push": {"applied": {"$each": [entry.id], "$slice": -KEEP}}},
                    )
                return
            except (ConcurrentUpdate, DuplicateKeyError):
                continue
        raise ConcurrentUpdate(f"leaderboard line {key} kept changing")

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
        # A concurrent award may create it a moment before us: a duplicate key then.
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.update_one(
                {"_id": key}, {"$setOnInsert": {"used": 0, "applied": []}}, upsert=True
            )
        result = await self.collection.update_one(
            {"_id": key, "used": {"$lte": limit - amount}, "applied": {"$ne": entry_id}},
            {
                "$inc": {"used": amount},
                "$push": {"applied": {"$each": [entry_id], "$slice": -KEEP}},
            },
        )
        if result.modified_count:
            return True
        doc = await self.collection.find_one({"_id": key}, projection={"applied": 1})
        return doc is not None and entry_id in doc.get("applied", [])
