"""The requests service's runtime on the real broker and store, driven through its use cases
(helpers are fixtures: test modules are not importable under --import-mode=importlib)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from asgi_lifespan import LifespanManager

from icr.kit.service import Runtime
from icr.kit.testing import service_settings_for_test
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
from icr.requests.handlers.catalog import publish_catalog_item
from icr.requests.handlers.deps import Deps
from icr.requests.handlers.directory import upsert_department, upsert_person
from icr.requests.handlers.submit import Submission, submit_request
from icr.requests.main import build_app
from icr.requests.settings import RequestsSettings

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
ADMIN = Actor("root", "", frozenset({Role.ADMIN}))


@dataclass
class Service:
    settings: RequestsSettings
    runtime: Runtime
    deps: Deps
    clock: SettableClock

    def actor(self, person_id: str) -> Actor:
        dept, roles = PEOPLE[person_id]
        return Actor(person_id, dept, frozenset(Role(r) for r in roles))

    def at(self, when: datetime) -> Deps:
        """The same dependencies on a clock of their own (a replica, or a later instant)."""
        return replace(self.deps, clock=SettableClock(when))

    async def submit(self, person_id: str = "ana", **extra: Any) -> str:
        submission = Submission(
            catalog_item_id="laptop", title="Laptop", form={"model": "pro"}, **extra
        )
        view = await submit_request(submission, actor=self.actor(person_id), deps=self.deps)
        return view.request.id

    def topic(self, name: str) -> str:
        return self.settings.topic_name(name)


PEOPLE = {
    "ana": ("sales", ["employee"]),
    "bo": ("it", ["agent"]),
    "cy": ("it", ["agent"]),
    "lee": ("legal", ["agent"]),
}


def laptop(**changes: Any) -> CatalogItem:
    values: dict[str, Any] = {
        "id": "laptop",
        "version": 1,
        "provider_department_id": "it",
        "name": {"en": "New laptop", "zh-CN": "新笔记本电脑"},
        "owning_team": "it-desk",
        "targets": {p: Targets(timedelta(hours=1), timedelta(hours=16)) for p in Priority},
        "fields": (ChoiceField(name="model", options=("standard", "pro"), required=True),),
        **changes,
    }
    return CatalogItem(**values)


async def _seed(deps: Deps) -> None:
    calendar = BusinessCalendar.standard("Asia/Shanghai", holidays=[date(2024, 6, 10)])
    for dept in ("it", "sales", "legal"):
        department = Department(dept, {"en": dept.upper()}, calendar)
        await upsert_department(department, actor=ADMIN, deps=deps)
    for person_id, (dept, roles) in PEOPLE.items():
        person = Person(person_id, person_id.title(), dept, frozenset(Role(r) for r in roles))
        await upsert_person(person, actor=ADMIN, deps=deps)
    await publish_catalog_item(laptop(), actor=ADMIN, deps=deps)


@contextlib.asynccontextmanager
async def running(settings: RequestsSettings, clock: SettableClock) -> AsyncIterator[Service]:
    app = build_app(settings, clock=clock)
    async with LifespanManager(app):
        runtime: Runtime = app.state.runtime
        async with asyncio.timeout(30):
            await runtime.started.wait()
        yield Service(
            settings, runtime, Deps.build(runtime.mongo, runtime.outbox, settings, clock), clock
        )


@pytest.fixture
def new_settings() -> Callable[..., RequestsSettings]:
    def make(**overrides: Any) -> RequestsSettings:
        return service_settings_for_test(
            RequestsSettings, **{"bootstrap_admins": "root", **overrides}
        )

    return make


@pytest.fixture
def start() -> Callable[..., Any]:
    """Starts the service (seeded on first start) on `settings` with a clock frozen at `at`."""

    @contextlib.asynccontextmanager
    async def run(
        settings: RequestsSettings, at: datetime = T0, *, seed: bool = True
    ) -> AsyncIterator[Service]:
        async with running(settings, SettableClock(at)) as service:
            if seed:
                await _seed(service.deps)
            yield service

    return run


@pytest.fixture
async def service(start, new_settings) -> AsyncIterator[Service]:
    async with start(new_settings()) as running_service:
        yield running_service
