"""Counting many entries into many documents in one round trip, each entry once per document."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from icr.kit.coalesce import Coalescer
from icr.kit.mongo import Document, apply_once, refused_as_duplicates

KEEP = 500


async def apply_each_once(
    collection: AsyncCollection[Document], updates: Sequence[tuple[str, Document, str]]
) -> None:
    """Applies each (document key, update, entry id) unless that document counted the entry
    already: one bulk write of guarded upserts (`apply_once`'s guard, without a read or a
    version, so hot documents take concurrent entries without retries).

    The updates of one document that only add and set (`$inc`, the same `$set`) go as one
    update counting all their entries, guarded by none of them being counted yet (`$nin`): a
    department's line takes a whole batch's entries in one write instead of one each. All or
    nothing: if any of them was counted already, the guard fails and each goes alone below.

    A guard that fails on an existing document makes the upsert try an insert: a duplicate key,
    meaning either "counted already" or "created by another entry a moment ago". Only those are
    retried, one `apply_once` each, which tells them apart."""
    groups: list[list[tuple[str, Document, str]]] = []
    mergeable: dict[tuple[str, str], list[tuple[str, Document, str]]] = {}
    seen: set[tuple[str, str]] = set()
    for update in updates:
        key, change, entry_id = update
        if (key, entry_id) in seen:
            continue  # the same entry twice (two callers in one flush): its guard refuses it
        seen.add((key, entry_id))
        if set(change) <= {"$inc", "$set"}:
            shape = (key, repr(sorted(change.get("$set", {}).items())))
            if shape in mergeable:
                mergeable[shape].append(update)
                continue
            mergeable[shape] = group = [update]
            groups.append(group)
        else:
            groups.append([update])
    statements = [_statement(group) for group in groups]
    if not statements:
        return
    try:
        await collection.bulk_write(statements, ordered=False)
    except BulkWriteError as exc:
        for index in sorted(refused_as_duplicates(exc)):
            for key, change, entry_id in groups[index]:
                await apply_once(collection, key, change, event_id=entry_id)


def _statement(group: list[tuple[str, Document, str]]) -> UpdateOne:
    """One guarded upsert counting the group's entries into its document."""
    key, first, entry_id = group[0]
    if len(group) == 1:
        push = {**first.get("$push", {})}
        push["applied_events"] = {"$each": [entry_id], "$slice": -KEEP}
        update = {**first, "$push": push}
        return UpdateOne({"_id": key, "applied_events": {"$ne": entry_id}}, update, upsert=True)
    ids = [entry_id for _, _, entry_id in group]
    inc: dict[str, int] = {}
    for _, change, _ in group:
        for field, amount in change.get("$inc", {}).items():
            inc[field] = inc.get(field, 0) + amount
    merged: Document = {"$push": {"applied_events": {"$each": ids, "$slice": -KEEP}}}
    if inc:
        merged["$inc"] = inc
    if "$set" in first:
        merged["$set"] = first["$set"]
    return UpdateOne({"_id": key, "applied_events": {"$nin": ids}}, merged, upsert=True)


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
