"""Catalog items: the current version of each item, plus every earlier version it replaced.

A request keeps the version it was submitted under, so old versions stay readable. Publishing
first copies the version being replaced into the history (an idempotent upsert), then moves the
current document on with its event in one outbox write: a crash between the two loses nothing.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.kit.mongo import Mongo
from icr.kit.outbox import ConcurrentUpdate, Outbox
from icr.requests.domain.catalog import CatalogItem
from icr.requests.store.codec import catalog_item_from_doc, catalog_item_to_doc

CATALOG_ITEMS = "catalog_items"
CATALOG_VERSIONS = "catalog_item_versions"

INDEXES = {
    CATALOG_ITEMS: [IndexModel([("provider_department_id", ASCENDING)], name="provider")],
    CATALOG_VERSIONS: [IndexModel([("item_id", ASCENDING), ("version", ASCENDING)], name="item")],
}


class CatalogStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.items = mongo.collection(CATALOG_ITEMS)
        self.versions = mongo.collection(CATALOG_VERSIONS)
        self.outbox = outbox

    async def current(self, item_id: str) -> CatalogItem | None:
        doc = await self.items.find_one({"_id": item_id})
        if doc is None:
            return None
        return catalog_item_from_doc(doc, item_id=item_id, version=doc["version"])

    async def version(self, item_id: str, version: int) -> CatalogItem | None:
        current = await self.current(item_id)
        if current is None or current.version == version:
            return current
        doc = await self.versions.find_one({"_id": f"{item_id}@{version}"})
        if doc is None:
            return None
        return catalog_item_from_doc(doc, item_id=item_id, version=version)

    async def list(self, *, provider_department_id: str | None = None) -> list[CatalogItem]:
        query = (
            {}
            if provider_department_id is None
            else {"provider_department_id": {"$eq": provider_department_id}}
        )
        docs = await self.items.find(query, sort=[("_id", ASCENDING)]).to_list()
        return [catalog_item_from_doc(d, item_id=d["_id"], version=d["version"]) for d in docs]

    async def publish(self, item: CatalogItem, *, replacing: CatalogItem | None) -> None:
        """Save `item` as the current version with its published event.

        Raises ConcurrentUpdate when another publish moved the item on first."""
        fields = catalog_item_to_doc(item)
        events = [item.published_event()]
        if replacing is None:
            try:
                await self.outbox.insert(self.items, {"_id": item.id, **fields}, events)
            except DuplicateKeyError:
                raise ConcurrentUpdate(f"catalog item {item.id} was created meanwhile") from None
            return
        await self.versions.update_one(
            {"_id": f"{replacing.id}@{replacing.version}"},
            {
                "$set": {
                    **catalog_item_to_doc(replacing),
                    "item_id": replacing.id,
                    "version": replacing.version,
                }
            },
            upsert=True,
        )
        # The outbox's document version is the catalog version: both start at 1 and move by one.
        await self.outbox.update(self.items, item.id, replacing.version, fields, events)
