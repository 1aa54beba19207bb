"""Departments and people: the directory collections and their queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from icr.contracts import Event
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import ConcurrentUpdate, Outbox
from icr.requests.domain.directory import Department, Person
from icr.requests.store.base import Saved, Versioned
from icr.requests.store.codec import (
    department_from_doc,
    department_to_doc,
    person_from_doc,
    person_to_doc,
)

DEPARTMENTS = "departments"
PEOPLE = "people"

INDEXES = {
    DEPARTMENTS: [IndexModel([("parent_id", ASCENDING)], name="parent")],
    PEOPLE: [IndexModel([("department_id", ASCENDING)], name="department")],
}


class DirectoryStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.departments = mongo.collection(DEPARTMENTS)
        self.people = mongo.collection(PEOPLE)
        self.outbox = outbox

    # --- departments ----------------------------------------------------------------------------

    async def department(self, department_id: str) -> Versioned[Department] | None:
        doc = await self.departments.find_one({"_id": department_id})
        return None if doc is None else Versioned(department_from_doc(doc), doc["version"])

    async def all_departments(self) -> list[Department]:
        docs = await self.departments.find({}, sort=[("_id", ASCENDING)]).to_list()
        return [department_from_doc(d) for d in docs]

    async def department_ids(self, ids: Iterable[str]) -> set[str]:
        return await self._existing(self.departments, ids)

    async def save_department(
        self, department: Department, *, known: Versioned[Department] | None, at: datetime
    ) -> Saved:
        """Insert or update unless equal; raises ConcurrentUpdate when someone wrote first."""
        if known is not None and known.value == department:
            return Saved(created=False, changed=False)
        events = [department.upserted_event(at)]
        fields = department_to_doc(department)
        version = None if known is None else known.version
        return await self._save(self.departments, department.id, version, fields, events)

    # --- people ---------------------------------------------------------------------------------

    async def person(self, person_id: str) -> Versioned[Person] | None:
        doc = await self.people.find_one({"_id": person_id})
        return None if doc is None else Versioned(person_from_doc(doc), doc["version"])

    async def people_by_ids(self, ids: Iterable[str]) -> dict[str, Versioned[Person]]:
        docs = await self.people.find({"_id": {"$in": sorted(set(ids))}}).to_list()
        return {d["_id"]: Versioned(person_from_doc(d), d["version"]) for d in docs}

    async def departments_by_ids(self, ids: Iterable[str]) -> dict[str, Versioned[Department]]:
        docs = await self.departments.find({"_id": {"$in": sorted(set(ids))}}).to_list()
        return {d["_id"]: Versioned(department_from_doc(d), d["version"]) for d in docs}

    async def person_ids(self, ids: Iterable[str]) -> set[str]:
        return await self._existing(self.people, ids)

    async def save_person(
        self, person: Person, *, known: Versioned[Person] | None, at: datetime
    ) -> Saved:
        if known is not None and known.value == person:
            return Saved(created=False, changed=False)
        events = [person.upserted_event(at)]
        version = None if known is None else known.version
        return await self._save(self.people, person.id, version, person_to_doc(person), events)

    # --- internals ------------------------------------------------------------------------------

    async def _existing(
        self, collection: AsyncCollection[Document], ids: Iterable[str]
    ) -> set[str]:
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        docs = await collection.find({"_id": {"$in": wanted}}, projection={"_id": 1}).to_list()
        return {d["_id"] for d in docs}

    async def _save(
        self,
        collection: AsyncCollection[Document],
        key: str,
        known_version: int | None,
        fields: Document,
        events: Sequence[Event],
    ) -> Saved:
        if known_version is None:
            try:
                await self.outbox.insert(collection, {"_id": key, **fields}, events)
            except DuplicateKeyError:
                raise ConcurrentUpdate(f"{collection.name}/{key} was created meanwhile") from None
            return Saved(created=True, changed=True)
        await self.outbox.update(collection, key, known_version, fields, events)
        return Saved(created=False, changed=True)
