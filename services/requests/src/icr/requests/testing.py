"""In-memory fakes of the requests service's stores, for the fast test tier (no Kafka, no store).

Each fake keeps the contract of its Mongo store that the use cases rely on (see
`handlers/ports.py`): versioned writes that raise `ConcurrentUpdate` when stale, events kept
with the state change in one step (a `FakeOutbox` that a write either reaches or does not),
copies handed out, and the listing filters, order and cursors. Requests are kept as the very
documents the Mongo store would write (its codec), so the listing reads the same fields.
`services/requests/tests/contract/test_req_store_contract.py` runs the same assertions on
the fakes and on the real stores so the two cannot drift apart.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pymongo.errors import DuplicateKeyError

from icr.contracts import Event
from icr.kit.outbox import ConcurrentUpdate
from icr.requests.clock import Clock, SettableClock
from icr.requests.domain.catalog import CatalogItem
from icr.requests.domain.directory import Department, Person
from icr.requests.domain.lifecycle import LifecyclePolicy
from icr.requests.domain.request import ServiceRequest
from icr.requests.handlers.deps import Deps
from icr.requests.settings import RequestsSettings
from icr.requests.store import JournaledImport, Page, RequestQuery, Saved, Versioned
from icr.requests.store.query import SORT_FIELDS, encode_cursor
from icr.requests.store.request_codec import request_from_doc, request_to_doc

T = TypeVar("T")
Interleaved = Callable[[], Awaitable[None]]

# What the Mongo store's listings leave out (its summary projection).
_NOT_IN_SUMMARY = ("comments", "history")


@dataclass(frozen=True)
class Recorded:
    """One event as the outbox holds it: which document recorded it, at which version."""

    collection: str
    key: str
    version: int
    event: Event


@dataclass
class FakeOutbox:
    """Stands in for the outbox and the producer behind it: what the stores recorded, in order.

    Everything here is what the relay would publish; a write that failed recorded nothing.
    """

    recorded: list[Recorded] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [r.event for r in self.recorded]

    def types(self) -> list[str]:
        return [r.event.event_type for r in self.recorded]

    def of(self, key: str) -> list[Event]:
        """The events one aggregate recorded, in order."""
        return [r.event for r in self.recorded if r.key == key]

    def take(self) -> list[Event]:
        """The events recorded so far, forgetting them (as a relay would after publishing)."""
        events, self.recorded = self.events, []
        return events

    def record(self, collection: str, key: str, version: int, events: Iterable[Event]) -> None:
        """What a store's successful write does (and only that)."""
        self.recorded += [Recorded(collection, key, version, e) for e in events]


class _VersionedWrites:
    """Shared by the fakes: the versioned write that a competing writer can be slipped before."""

    def __init__(self, outbox: FakeOutbox, collection: str) -> None:
        self.outbox = outbox
        self.collection_name = collection
        self._before_write: list[Interleaved] = []

    def interleave(self, competitor: Interleaved) -> None:
        """Run `competitor` just before the next write checks its version: the race a second
        replica causes, on demand (the competitor may itself write through this store)."""
        self._before_write.append(competitor)

    async def _race(self) -> None:
        # Competitors queued meanwhile (by a competitor, say) wait for the next write.
        competitors, self._before_write = self._before_write, []
        for competitor in competitors:
            await competitor()

    def _check(self, versions: dict[str, int], key: str, expected: int | None) -> int:
        """The version the write makes, or ConcurrentUpdate (nothing written)."""
        current = versions.get(key)
        if expected is None and current is not None:
            raise ConcurrentUpdate(f"{self.collection_name}/{key} was created meanwhile")
        if expected is not None and current != expected:
            raise ConcurrentUpdate(f"{self.collection_name}/{key} is no longer at v{expected}")
        return 1 if expected is None else expected + 1


class FakeRequestStore(_VersionedWrites):
    def __init__(self, outbox: FakeOutbox, policy: LifecyclePolicy) -> None:
        super().__init__(outbox, "requests")
        self._policy = policy
        self.docs: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}

    @property
    def policy(self) -> LifecyclePolicy:
        return self._policy

    async def get(self, request_id: str) -> Versioned[ServiceRequest] | None:
        doc = self.docs.get(request_id)
        if doc is None:
            return None
        return Versioned(request_from_doc(copy.deepcopy(doc)), self.versions[request_id])

    async def by_ids(self, ids: Iterable[str]) -> list[ServiceRequest]:
        return [self._summary(self.docs[i]) for i in sorted(set(ids)) if i in self.docs]

    async def children_of(self, parent_id: str) -> list[ServiceRequest]:
        docs = [d for d in self.docs.values() if d["parent_id"] == parent_id]
        docs.sort(key=lambda d: (d["submitted_at"], d["_id"]))
        return [self._summary(d) for d in docs]

    async def add(self, request: ServiceRequest) -> None:
        if request.id in self.docs:  # as MongoDB's unique _id answers
            raise DuplicateKeyError(f"requests/{request.id} exists")
        await self._write(request, None)

    async def save(self, request: Versioned[ServiceRequest]) -> int:
        return await self._write(request.value, request.version)

    async def list(self, query: RequestQuery) -> Page:
        key = SORT_FIELDS[query.sort]
        docs = [d for d in self.docs.values() if _selected(d, query)]
        docs.sort(key=lambda d: (d[key], d["_id"]), reverse=query.descending)
        if query.after is not None:
            mark = (query.after.value, query.after.id)
            docs = [
                d
                for d in docs
                if ((d[key], d["_id"]) < mark if query.descending else (d[key], d["_id"]) > mark)
            ]
        page, more = docs[: query.limit], len(docs) > query.limit
        cursor = encode_cursor(query, page[-1]) if more and page else None
        return Page([self._summary(d) for d in page], cursor)

    async def _write(self, request: ServiceRequest, expected: int | None) -> int:
        # Like the Mongo store: the events are taken from the aggregate before the write.
        doc = {"_id": request.id, **request_to_doc(request, self._policy)}
        events = request.pull_events()
        await self._race()
        version = self._check(self.versions, request.id, expected)
        self.docs[request.id], self.versions[request.id] = doc, version
        self.outbox.record(self.collection_name, request.id, version, events)
        return version

    @staticmethod
    def _summary(doc: dict[str, Any]) -> ServiceRequest:
        return request_from_doc(
            copy.deepcopy({k: v for k, v in doc.items() if k not in _NOT_IN_SUMMARY})
        )


def _selected(doc: dict[str, Any], q: RequestQuery) -> bool:
    """The Mongo store's filter (store/query.py `build_filter`), read in Python."""
    f = q.filters

    def any_of(name: str, values: Iterable[Any]) -> bool:
        wanted = {str(v) for v in values}
        return not wanted or doc[name] in wanted

    def within(name: str, low: datetime | None, high: datetime | None) -> bool:
        value: datetime = doc[name]
        return (low is None or value >= low) and (high is None or value < high)

    return (
        q.visibility.matches(FakeRequestStore._summary(doc))
        and any_of("provider_department_id", f.provider_department_ids)
        and any_of("requester_department_id", f.consumer_department_ids)
        and any_of("status", f.statuses)
        and any_of("priority", f.priorities)
        and any_of("requester_id", f.requester_ids)
        and any_of("assignee_id", f.assignee_ids)
        and (f.breached is None or doc["breached"] is f.breached)
        and (f.parent_id is None or doc["parent_id"] == f.parent_id)
        and within("submitted_at", f.created_from, f.created_to)
        and within("due_at", f.due_from, f.due_to)
    )


class FakeCatalogStore(_VersionedWrites):
    def __init__(self, outbox: FakeOutbox) -> None:
        super().__init__(outbox, "catalog_items")
        self.items: dict[str, CatalogItem] = {}
        self.versions: dict[str, int] = {}
        self.history: dict[tuple[str, int], CatalogItem] = {}

    async def current(self, item_id: str) -> CatalogItem | None:
        return self.items.get(item_id)

    async def version(self, item_id: str, version: int) -> CatalogItem | None:
        current = self.items.get(item_id)
        if current is None or current.version == version:
            return current
        return self.history.get((item_id, version))

    async def publish(self, item: CatalogItem, *, replacing: CatalogItem | None) -> None:
        await self._race()
        expected = None if replacing is None else replacing.version
        version = self._check(self.versions, item.id, expected)
        if replacing is not None:
            self.history[(replacing.id, replacing.version)] = replacing
        self.items[item.id], self.versions[item.id] = item, version
        self.outbox.record(self.collection_name, item.id, version, [item.published_event()])

    async def list(self, *, provider_department_id: str | None = None) -> list[CatalogItem]:
        return [
            item
            for _, item in sorted(self.items.items())
            if provider_department_id is None
            or item.provider_department_id == provider_department_id
        ]


class FakeDirectoryStore:
    """Departments and people; each collection versioned on its own, as in MongoDB."""

    def __init__(self, outbox: FakeOutbox) -> None:
        self.departments = _Entities[Department](outbox, "departments")
        self.people = _Entities[Person](outbox, "people")

    async def department(self, department_id: str) -> Versioned[Department] | None:
        return self.departments.get(department_id)

    async def all_departments(self) -> list[Department]:
        return self.departments.values()

    async def department_ids(self, ids: Iterable[str]) -> set[str]:
        return self.departments.existing(ids)

    async def departments_by_ids(self, ids: Iterable[str]) -> dict[str, Versioned[Department]]:
        return self.departments.by_ids(ids)

    async def save_department(
        self, department: Department, *, known: Versioned[Department] | None, at: datetime
    ) -> Saved:
        if known is not None and known.value == department:
            return Saved(created=False, changed=False)
        event = department.upserted_event(at)
        return await self.departments.save(department.id, department, known, event)

    async def person(self, person_id: str) -> Versioned[Person] | None:
        return self.people.get(person_id)

    async def people_by_ids(self, ids: Iterable[str]) -> dict[str, Versioned[Person]]:
        return self.people.by_ids(ids)

    async def person_ids(self, ids: Iterable[str]) -> set[str]:
        return self.people.existing(ids)

    async def save_person(
        self, person: Person, *, known: Versioned[Person] | None, at: datetime
    ) -> Saved:
        if known is not None and known.value == person:
            return Saved(created=False, changed=False)
        return await self.people.save(person.id, person, known, person.upserted_event(at))


class _Entities(_VersionedWrites, Generic[T]):
    """Frozen domain values by id (immutable, so handing them out needs no copy)."""

    def __init__(self, outbox: FakeOutbox, collection: str) -> None:
        super().__init__(outbox, collection)
        self.values_by_id: dict[str, T] = {}
        self.versions: dict[str, int] = {}

    def get(self, key: str) -> Versioned[T] | None:
        if key not in self.values_by_id:
            return None
        return Versioned(self.values_by_id[key], self.versions[key])

    def values(self) -> list[T]:
        return [v for _, v in sorted(self.values_by_id.items())]

    def existing(self, ids: Iterable[str]) -> set[str]:
        return {i for i in ids if i in self.values_by_id}

    def by_ids(self, ids: Iterable[str]) -> dict[str, Versioned[T]]:
        return {i: found for i in set(ids) if (found := self.get(i)) is not None}

    async def save(self, key: str, value: T, known: Versioned[T] | None, event: Event) -> Saved:
        await self._race()
        version = self._check(self.versions, key, None if known is None else known.version)
        self.values_by_id[key], self.versions[key] = value, version
        self.outbox.record(self.collection_name, key, version, [event])
        return Saved(created=known is None, changed=True)


@dataclass
class JournalEntry:
    body: bytes
    content_type: str
    actor_id: str
    status: str
    started_at: datetime
    resume_at: datetime | None
    finished_at: datetime | None = None
    summary: dict[str, Any] | None = None


class FakeImportJournal:
    def __init__(self) -> None:
        self.entries: dict[str, JournalEntry] = {}

    async def begin(
        self,
        import_id: str,
        *,
        body: bytes,
        content_type: str,
        actor_id: str,
        at: datetime,
        resume_at: datetime,
    ) -> None:
        if import_id in self.entries:
            raise ValueError(f"import {import_id} is already journaled")
        self.entries[import_id] = JournalEntry(
            body, content_type, actor_id, "applying", at, resume_at
        )

    async def applying(self, import_id: str, work: Callable[[], Awaitable[T]]) -> T:
        return await work()

    async def get(self, import_id: str) -> JournaledImport | None:
        entry = self.entries.get(import_id)
        if entry is None:
            return None
        return JournaledImport(
            import_id, entry.body, entry.content_type, entry.actor_id, entry.status
        )

    async def finish(
        self, import_id: str, *, status: str, at: datetime, summary: dict[str, Any]
    ) -> None:
        entry = self.entries.get(import_id)
        if entry is not None:
            entry.status, entry.finished_at, entry.summary = status, at, summary
            entry.body, entry.resume_at = b"", None


@dataclass
class FakeStores:
    """Every store of the service in memory, recording into one outbox."""

    outbox: FakeOutbox
    directory: FakeDirectoryStore
    catalog: FakeCatalogStore
    requests: FakeRequestStore
    imports: FakeImportJournal

    @classmethod
    def create(cls, policy: LifecyclePolicy) -> FakeStores:
        outbox = FakeOutbox()
        return cls(
            outbox=outbox,
            directory=FakeDirectoryStore(outbox),
            catalog=FakeCatalogStore(outbox),
            requests=FakeRequestStore(outbox, policy),
            imports=FakeImportJournal(),
        )

    def deps(self, settings: RequestsSettings, clock: Clock) -> Deps:
        return Deps(
            directory=self.directory,
            catalog=self.catalog,
            requests=self.requests,
            imports=self.imports,
            settings=settings,
            clock=clock,
        )


def fast_settings(**overrides: Any) -> RequestsSettings:
    """Settings for the fast tier: nothing here connects anywhere, so no address matters."""
    values: dict[str, Any] = {
        "mongo_url": "mongodb://unused.invalid:1",
        "kafka_bootstrap_servers": "unused.invalid:1",
        **overrides,
    }
    return RequestsSettings(**values)


def in_memory(
    settings: RequestsSettings | None = None, *, at: datetime | None = None
) -> tuple[Deps, FakeStores, SettableClock]:
    """Use-case dependencies on fakes, with a clock that moves only when told to."""
    settings = settings or fast_settings()
    clock = SettableClock(at or datetime(2024, 6, 3, 1, tzinfo=UTC))
    stores = FakeStores.create(settings.policy)
    return stores.deps(settings, clock), stores, clock


__all__ = [
    "FakeCatalogStore",
    "FakeDirectoryStore",
    "FakeImportJournal",
    "FakeOutbox",
    "FakeRequestStore",
    "FakeStores",
    "Recorded",
    "fast_settings",
    "in_memory",
]
