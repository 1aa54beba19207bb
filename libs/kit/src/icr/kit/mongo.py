"""The MongoDB client's lifecycle and the few helpers every store shares."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

Document = dict[str, Any]


class Mongo:
    """Owns one `AsyncMongoClient`; built in the service's lifespan, never at import time."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            settings.mongo_url,
            serverSelectionTimeoutMS=settings.mongo_timeout_ms,
            tz_aware=True,
            appname=f"icr-{settings.service_name}",
        )
        self.db: AsyncDatabase[Document] = self.client[settings.database]

    def collection(self, name: str) -> AsyncCollection[Document]:
        return self.db[name]

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def ensure_indexes(self, indexes: Mapping[str, Sequence[IndexModel]]) -> None:
        for name, models in indexes.items():
            if models:
                await self.db[name].create_indexes(list(models))
        log.info("indexes ensured", extra={"collections": sorted(indexes)})

    async def close(self) -> None:
        await self.client.close()


async def apply_once(
    collection: AsyncCollection[Document],
    key: Any,
    update: Document,
    *,
    event_id: str,
    upsert: bool = True,
    keep: int = 500,
) -> bool:
    """Applies `update` to one document unless it already applied `event_id`; True if it did.

    The document remembers the last `keep` event ids it applied, and the effect and that record
    are one atomic write, so a redelivered event changes nothing, even after a crash between
    processing and the offset commit. With `upsert`, an existing document whose guard fails makes
    the server try an insert with the same `_id`; that duplicate key is settled by a plain update.
    """
    guarded = {**update}
    push = dict(guarded.get("$push", {}))
    push["applied_events"] = {"$each": [event_id], "$slice": -keep}
    guarded["$push"] = push
    guard = {"_id": key, "applied_events": {"$ne": event_id}}
    try:
        result = await collection.update_one(guard, guarded, upsert=upsert)
    except DuplicateKeyError:
        # The document exists: either it already applied this event (the guard failed), or
        # another event created it a moment ago. Only a plain update can tell them apart.
        result = await collection.update_one(guard, guarded)
        return result.modified_count > 0
    return result.modified_count > 0 or result.upserted_id is not None


async def record_once(collection: AsyncCollection[Document], key: str, doc: Document) -> bool:
    """Inserts `doc` under `_id = key` unless a record with that key exists; True if inserted.

    For effects that sum (points, balances, counts): derive `key` from the source event's id
    (e.g. f"{event_id}:points") so each source event is counted once, forever. Unlike
    `apply_once` (last 500 ids per document) and the inbox (purged after some days), the unique
    `_id` never forgets, and a redelivery or replay years later still finds it.
    """
    try:
        await collection.insert_one({**doc, "_id": key})
    except DuplicateKeyError:
        return False
    return True


# Stages that read an index, and the name they report it under; real MongoDB answers a plain
# `{_id: x}` with IDHACK / EXPRESS_IDHACK, which name no index.
_INDEX_STAGES = {"IXSCAN", "EXPRESS_IXSCAN", "COUNT_SCAN", "DISTINCT_SCAN"}
_ID_STAGES = {"IDHACK", "EXPRESS_IDHACK"}


def index_of_plan(explain: Mapping[str, Any]) -> str | None:
    """The index the winning plan of an `explain` result reads, or None for a collection scan.

    Reads MongoDB's shape (`queryPlanner.winningPlan`, nested `inputStage`/`inputStages`, and
    the slot-based engine's `winningPlan.queryPlan`), which the local stand-in answers too."""
    planner = explain.get("queryPlanner", {})
    nodes: list[Any] = [planner.get("winningPlan", {})]
    while nodes:
        node = nodes.pop(0)
        if not isinstance(node, Mapping):
            continue
        stage = node.get("stage")
        if stage in _INDEX_STAGES and node.get("indexName"):
            return str(node["indexName"])
        if stage in _ID_STAGES:
            return "_id_"
        nodes.extend([node.get("queryPlan"), node.get("inputStage"), *node.get("inputStages", [])])
    return None


async def winning_index(
    collection: AsyncCollection[Document],
    filter: Mapping[str, Any],
    sort: Sequence[tuple[str, int]] | None = None,
    *,
    update: Mapping[str, Any] | None = None,
) -> str | None:
    """Which index the server picks for `find(filter).sort(sort)`, or for `update_one(filter,
    update)` when `update` is given (the explain command; None means a collection scan)."""
    if update is not None:
        command = {
            "explain": {
                "update": collection.name,
                "updates": [{"q": dict(filter), "u": dict(update)}],
            },
            "verbosity": "queryPlanner",
        }
        return index_of_plan(await collection.database.command(command))
    cursor = collection.find(dict(filter))
    if sort:
        cursor = cursor.sort(list(sort))
    return index_of_plan(await cursor.explain())


DUPLICATE_KEY = 11000


def refused_as_duplicates(exc: BulkWriteError) -> set[int]:
    """The positions an unordered bulk write refused for a duplicate key (what is already
    there); any other write error is re-raised, as it means something else went wrong."""
    errors = exc.details.get("writeErrors", [])
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return {int(e["index"]) for e in errors}
