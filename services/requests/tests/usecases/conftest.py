"""The fast tier of the requests service: its use cases on in-memory fakes of the stores and
the outbox (icr.requests.testing), in milliseconds, with no Kafka and no store. A seeded
organisation and a clock that moves only when told to (helpers are fixtures: test modules are
not importable under --import-mode=importlib)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.contracts import Event
from icr.requests.clock import SettableClock
from icr.requests.domain import (
    Actor,
    BusinessCalendar,
    CatalogItem,
    ChoiceField,
    Department,
    Person,
    Priority,
    Role,
    Targets,
)
from icr.requests.domain.forms import PersonField
from icr.requests.handlers.catalog import publish_catalog_item
from icr.requests.handlers.deps import Deps
from icr.requests.handlers.directory import upsert_department, upsert_person
from icr.requests.handlers.submit import Submission, submit_request
from icr.requests.settings import RequestsSettings
from icr.requests.testing import FakeOutbox, FakeStores, fast_settings, in_memory

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
ADMIN = Actor("root", "", frozenset({Role.ADMIN}))
PEOPLE = {
    # id: (department, roles)
    "ana": ("sales", ["employee"]),  # the requester
    "sam": ("sales", ["employee"]),
    "al": ("sales", ["manager"]),
    "bo": ("it", ["agent"]),
    "cy": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
    "eve": ("hr", ["agent"]),  # an outsider to IT and Sales
    "lee": ("legal", ["agent"]),
}
FIRST_RESPONSE, RESOLUTION = timedelta(hours=1), timedelta(hours=8)


def laptop(**changes: Any) -> CatalogItem:
    values: dict[str, Any] = {
        "id": "laptop",
        "version": 1,
        "provider_department_id": "it",
        "name": {"en": "New laptop"},
        "owning_team": "it-desk",
        "targets": {p: Targets(FIRST_RESPONSE, RESOLUTION) for p in Priority},
        "fields": (
            ChoiceField(name="model", options=("standard", "pro"), required=True),
            PersonField(name="approver"),
        ),
        **changes,
    }
    return CatalogItem(**values)


@dataclass
class World:
    deps: Deps
    stores: FakeStores
    clock: SettableClock

    @property
    def outbox(self) -> FakeOutbox:
        return self.stores.outbox

    def actor(self, person_id: str) -> Actor:
        dept, roles = PEOPLE[person_id]
        return Actor(person_id, dept, frozenset(Role(r) for r in roles))

    def later(self, **delta: float) -> datetime:
        return self.clock.advance(timedelta(**delta))

    async def submit(self, by: str = "ana", **extra: Any) -> str:
        submission = Submission(
            catalog_item_id="laptop", title="Laptop", form={"model": "pro"}, **extra
        )
        view = await submit_request(submission, actor=self.actor(by), deps=self.deps)
        return view.request.id

    def types(self, key: str | None = None) -> list[str]:
        events: list[Event] = self.outbox.events if key is None else self.outbox.of(key)
        return [e.event_type for e in events]


async def seed(deps: Deps) -> None:
    """Departments on an always-open calendar (due times are plain arithmetic), people, laptop."""
    for dept in ("it", "sales", "legal", "hr"):
        department = Department(dept, {"en": dept.upper()}, BusinessCalendar.always())
        await upsert_department(department, actor=ADMIN, deps=deps)
    for person_id, (dept, roles) in PEOPLE.items():
        person = Person(person_id, person_id.title(), dept, frozenset(Role(r) for r in roles))
        await upsert_person(person, actor=ADMIN, deps=deps)
    await publish_catalog_item(laptop(), actor=ADMIN, deps=deps)


@pytest.fixture
def make_world() -> Callable[..., Any]:
    """A seeded world on settings with `overrides`; the seed's events are already taken."""

    async def make(**overrides: Any) -> World:
        settings: RequestsSettings = fast_settings(**{"bootstrap_admins": "root", **overrides})
        deps, stores, clock = in_memory(settings, at=T0)
        await seed(deps)
        stores.outbox.take()
        return World(deps, stores, clock)

    return make


@pytest.fixture
async def world(make_world) -> World:
    made: World = await make_world()
    return made
