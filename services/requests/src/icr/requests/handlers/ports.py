"""What the use cases need from storage, as Protocols (ports).

The Mongo stores in `icr.requests.store` satisfy them as they are; `icr.requests.testing`
has in-memory fakes of each for the fast test tier. The contract every implementation keeps:
- a write of a state change and the events it records is one atomic step: both or neither;
- a save or publish against a stale version raises `ConcurrentUpdate` and writes nothing;
- an upsert equal to what is stored changes nothing and records no event;
- objects handed out are copies: changing one changes nothing stored until it is saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from icr.requests.domain.catalog import CatalogItem
from icr.requests.domain.directory import Department, Person
from icr.requests.domain.lifecycle import LifecyclePolicy
from icr.requests.domain.request import ServiceRequest
from icr.requests.store import JournaledImport, Page, RequestQuery, Saved, Versioned

T = TypeVar("T")


class RequestRepository(Protocol):
    @property
    def policy(self) -> LifecyclePolicy: ...

    async def get(self, request_id: str) -> Versioned[ServiceRequest] | None: ...

    async def by_ids(self, ids: Iterable[str]) -> list[ServiceRequest]:
        """Summaries (no comments, no history), in no particular order."""
        ...

    async def children_of(self, parent_id: str) -> list[ServiceRequest]:
        """Summaries of the requests whose `parent_id` is `parent_id`, oldest first."""
        ...

    async def add(self, request: ServiceRequest) -> None:
        """Insert a new request with the events it recorded (taken from it)."""
        ...

    async def save(self, request: Versioned[ServiceRequest]) -> int:
        """Write the request and its new events (taken from it) if it is still at its version;
        returns the new version, or raises ConcurrentUpdate."""
        ...

    async def list(self, query: RequestQuery) -> Page:
        """One page of summaries the query's visibility and filters select, keyset-paginated."""
        ...


class CatalogRepository(Protocol):
    async def current(self, item_id: str) -> CatalogItem | None: ...

    async def version(self, item_id: str, version: int) -> CatalogItem | None: ...

    async def publish(self, item: CatalogItem, *, replacing: CatalogItem | None) -> None:
        """Make `item` current with its published event; ConcurrentUpdate when `replacing`
        is no longer current (or, for a new item, when it was created meanwhile)."""
        ...

    async def list(self, *, provider_department_id: str | None = None) -> list[CatalogItem]:
        """Current versions, by id."""
        ...


class DirectoryRepository(Protocol):
    async def department(self, department_id: str) -> Versioned[Department] | None: ...

    async def all_departments(self) -> list[Department]:
        """Every department, by id."""
        ...

    async def department_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of `ids` that exist."""
        ...

    async def departments_by_ids(self, ids: Iterable[str]) -> dict[str, Versioned[Department]]: ...

    async def save_department(
        self, department: Department, *, known: Versioned[Department] | None, at: datetime
    ) -> Saved: ...

    async def person(self, person_id: str) -> Versioned[Person] | None: ...

    async def people_by_ids(self, ids: Iterable[str]) -> dict[str, Versioned[Person]]: ...

    async def person_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of `ids` that exist."""
        ...

    async def save_person(
        self, person: Person, *, known: Versioned[Person] | None, at: datetime
    ) -> Saved: ...


class ImportJournalRepository(Protocol):
    async def begin(
        self,
        import_id: str,
        *,
        body: bytes,
        content_type: str,
        actor_id: str,
        at: datetime,
        resume_at: datetime,
    ) -> None: ...

    async def applying(self, import_id: str, work: Callable[[], Awaitable[T]]) -> T:
        """Runs `work` (apply, then finish) as the entry's one applier: the scheduler does not
        resume an import while the process that began it is applying it."""
        ...

    async def get(self, import_id: str) -> JournaledImport | None: ...

    async def finish(
        self, import_id: str, *, status: str, at: datetime, summary: dict[str, Any]
    ) -> None:
        """Applied or rejected; the file is dropped, the summary kept."""
        ...
