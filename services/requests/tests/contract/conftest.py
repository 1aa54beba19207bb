"""One harness over either implementation of the store ports: the in-memory fakes of the fast
tier, or the Mongo stores on the real server (marked infra, so `make unit` leaves them out).
Helpers are fixtures: test modules are not importable under --import-mode=importlib."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.contracts import Envelope
from icr.kit.mongo import Mongo
from icr.kit.outbox import OUTBOX, Outbox
from icr.kit.testing import service_settings_for_test
from icr.requests.domain import (
    BusinessCalendar,
    CatalogItem,
    ChoiceField,
    Priority,
    ServiceRequest,
    Targets,
)
from icr.requests.handlers.ports import (
    CatalogRepository,
    DirectoryRepository,
    ImportJournalRepository,
    RequestRepository,
)
from icr.requests.settings import RequestsSettings
from icr.requests.store import CatalogStore, DirectoryStore, ImportJournal, RequestStore
from icr.requests.testing import FakeStores, fast_settings

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)


@dataclass
class Harness:
    kind: str
    requests: RequestRepository
    catalog: CatalogRepository
    directory: DirectoryRepository
    imports: ImportJournalRepository
    # The event types stored with a document (collection, id), oldest first: what the relay
    # would publish for it.
    recorded: Callable[[str, str], Awaitable[list[str]]]


@pytest.fixture(params=["fake", pytest.param("mongo", marks=pytest.mark.infra)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "fake":
        fakes = FakeStores.create(fast_settings().policy)

        async def recorded_in_memory(collection: str, key: str) -> list[str]:
            return [
                r.event.event_type
                for r in fakes.outbox.recorded
                if (r.collection, r.key) == (collection, key)
            ]

        yield Harness(
            "fake",
            fakes.requests,
            fakes.catalog,
            fakes.directory,
            fakes.imports,
            recorded_in_memory,
        )
        return
    settings = service_settings_for_test(RequestsSettings)
    mongo, outbox = Mongo(settings), Outbox(settings)

    async def recorded_in_mongo(collection: str, key: str) -> list[str]:
        doc = await mongo.collection(collection).find_one({"_id": key})
        entries = (doc or {}).get(OUTBOX, [])
        return [Envelope.model_validate(e["envelope"]).type for e in entries]

    try:
        yield Harness(
            "mongo",
            RequestStore(mongo, outbox, settings.policy),
            CatalogStore(mongo, outbox),
            DirectoryStore(mongo, outbox),
            ImportJournal(mongo),
            recorded_in_mongo,
        )
    finally:
        await mongo.client.drop_database(settings.mongo_db)
        await mongo.close()


LAPTOP = CatalogItem(
    id="laptop",
    version=1,
    provider_department_id="it",
    name={"en": "New laptop"},
    owning_team="it-desk",
    targets={p: Targets(timedelta(hours=1), timedelta(hours=8)) for p in Priority},
    fields=(ChoiceField(name="model", options=("standard", "pro"), required=True),),
    published_at=T0,
)


def build_request(
    request_id: str,
    *,
    at: datetime = T0,
    requester: tuple[str, str] = ("ana", "sales"),
    item: CatalogItem = LAPTOP,
    priority: Priority | None = None,
    parent_id: str | None = None,
    **changes: Any,
) -> ServiceRequest:
    request = ServiceRequest.submit(
        request_id=request_id,
        title=f"Laptop {request_id}",
        item=item,
        requester_id=requester[0],
        requester_department_id=requester[1],
        form={"model": "pro"},
        calendar=BusinessCalendar.always(),
        at=at,
        priority=priority,
        parent_id=parent_id,
    )
    for name, value in changes.items():
        setattr(request, name, value)
    return request


@pytest.fixture
def new_request() -> Callable[..., ServiceRequest]:
    return build_request


@pytest.fixture
def laptop() -> Callable[..., CatalogItem]:
    def make(**changes: Any) -> CatalogItem:
        return replace(LAPTOP, **changes)

    return make
