"""Counting many entries into many documents in one round trip, each entry once per document."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from icr.kit.coalesce import Coalescer
from icr.kit.mongo import Document, apply_once

KEEP = 500
_DUPLICATE_KEY = 11000


async def apply_each_once(
    collection: AsyncCollection[Document], updates: Sequence[tuple[str, Document, str]]
) -> None:
    """Applies each (document key, update, entry id) unless that document counted the entry
    already: one bulk write of guarded upserts (`apply_once`'s guard, without a read or a
    version, so hot documents take concurrent entries without retries).

    A guard that fails on an existing document makes the upsert try an insert: a duplicate key,
    meaning either "counted already" or "created by another entry a moment ago". Only those are
    retried, one `apply_once` each, which tells them apart."""
    statements = []
    for key, update, entry_id in updates:
        push = {**update.get("$push", {})}
        push["applied_events"] = {"$each": [entry_id], "$slice": -KEEP}
        statements.append(
            UpdateOne(
                {"_id": key, "applied_events": {"$ne": entry_id}},
                {**update, "$push": push},
                upsert=True,
            )
        )
    if not statements:
        return
    try:
        await collection.bulk_write(statements, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != _DUPLICATE_KEY for e in errors):
            raise
        for index in sorted(e["index"] for e in errors):
            key, update, entry_id = updates[index]
            await apply_once(collection, key, update, event_id=entry_id)


Update = tuple[str, Document, str]


class CoalescedApply:
    """`apply_each_once` for concurrent callers in one bulk write (`Coalescer`): the updates of
    every call waiting together go in one round trip; each is still guarded by its entry id."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection
        self._apply: Coalescer[list[Update], None] = Coalescer(self._flush)

    async def __call__(self, updates: list[Update]) -> None:
        if updates:
            await self._apply(updates)

    async def _flush(self, calls: Sequence[list[Update]]) -> list[None]:
        await apply_each_once(self.collection, [u for updates in calls for u in updates])
        return [None] * len(calls)
