"""The requests service in-process on the real Kafka broker and Mongo-compatible server, with a
seeded organisation and a clock the tests move (helpers are fixtures: test modules are not
importable under --import-mode=importlib)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from icr.contracts import Envelope
from icr.contracts.topics import REQUESTS, Topic
from icr.kit.kafka import decode
from icr.kit.testing import bearer, read_keyed, service_settings_for_test, wait_ready
from icr.requests.clock import SettableClock
from icr.requests.main import build_app
from icr.requests.settings import RequestsSettings

ADMIN = "root"
# Monday 2024-06-03 09:00 in Shanghai, where every department of the seed works 09:00-18:00.
T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)
WEEK = {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
PRIORITIES = ("low", "medium", "high", "critical")

PEOPLE = {
    # id: (department, roles)
    "ana": ("sales", ["employee"]),  # the requester
    "sam": ("sales", ["employee"]),  # the requester's colleague
    "al": ("sales", ["manager"]),  # the requester's manager
    "bo": ("it", ["agent"]),
    "cy": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
    "eve": ("hr", ["agent"]),  # an outsider to IT and Sales
    "lee": ("legal", ["agent"]),
}


def targets(first: int = 60, resolution: int = 960) -> dict[str, dict[str, int]]:
    return {
        p: {"first_response_minutes": first, "resolution_minutes": resolution} for p in PRIORITIES
    }


LAPTOP = {
    "provider_department_id": "it",
    "name": {"en": "New laptop", "zh-CN": "新笔记本电脑"},
    "description": {"en": "A laptop for work", "zh-CN": "工作用笔记本电脑"},
    "owning_team": "it-desk",
    "fields": [
        {"type": "choice", "name": "model", "required": True, "options": ["standard", "pro"]},
        {"type": "text", "name": "reason", "min_length": 3, "max_length": 100},
        {"type": "number", "name": "quantity", "minimum": 1, "maximum": 5, "integer": True},
        {"type": "date", "name": "needed_by", "earliest": "2024-01-01"},
        {"type": "person", "name": "approver"},
    ],
    "targets": targets(),
}
CONTRACT = {
    "provider_department_id": "legal",
    "name": {"en": "Contract review", "zh-CN": "合同审核"},
    "owning_team": "legal-desk",
    "targets": targets(120, 2400),
}


class Api:
    """An HTTP client on the app, speaking as whoever a call names."""

    def __init__(self, http: httpx.AsyncClient, clock: SettableClock, settings: Any) -> None:
        self.http = http
        self.clock = clock
        self.settings = settings

    async def call(
        self, method: str, path: str, actor: str | None, *, expect: int | None = None, **kw: Any
    ) -> httpx.Response:
        # The caller is whoever the bearer token names (the test issuer signs it).
        headers = {**kw.pop("headers", {}), **(bearer(actor) if actor else {})}
        response = await self.http.request(method, path, headers=headers, **kw)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.text)
        return response

    async def get(self, path: str, actor: str | None, **kw: Any) -> httpx.Response:
        return await self.call("GET", path, actor, **kw)

    async def post(
        self, path: str, actor: str | None, json: Any = None, **kw: Any
    ) -> httpx.Response:
        return await self.call("POST", path, actor, json=json, **kw)

    async def put(self, path: str, actor: str | None, json: Any, **kw: Any) -> httpx.Response:
        return await self.call("PUT", path, actor, json=json, **kw)

    async def submit(self, actor: str = "ana", item: str = "laptop", **body: Any) -> dict[str, Any]:
        payload = {"catalog_item_id": item, "title": "Laptop", "form": {"model": "pro"}, **body}
        response = await self.post("/requests", actor, payload, expect=201)
        return dict(response.json())

    async def act(
        self, request_id: str, action: str, actor: str, body: Any = None, expect: int = 200
    ) -> dict[str, Any]:
        response = await self.post(f"/requests/{request_id}/{action}", actor, body, expect=expect)
        return dict(response.json())

    async def department(self, dept_id: str, **extra: Any) -> None:
        body = {
            "name": {"en": dept_id.upper()},
            "calendar": {"timezone": "Asia/Shanghai", "week": WEEK},
            **extra,
        }
        response = await self.put(f"/departments/{dept_id}", ADMIN, body)
        assert response.status_code in (200, 201), response.text

    async def person(self, person_id: str, dept: str, roles: list[str]) -> None:
        body = {"name": person_id.title(), "department_id": dept, "roles": roles}
        response = await self.put(f"/people/{person_id}", ADMIN, body)
        assert response.status_code in (200, 201), response.text

    async def item(self, item_id: str, body: dict[str, Any], actor: str = ADMIN) -> dict[str, Any]:
        response = await self.put(f"/catalog/items/{item_id}", actor, body)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[Api]:
    settings = service_settings_for_test(
        RequestsSettings, bootstrap_admins=ADMIN, sla_poll_seconds=0.05
    )
    clock = SettableClock(T0)
    app = build_app(settings, clock=clock)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://requests") as http:
            await wait_ready(http)
            client = Api(http, clock, settings)
            for dept in ("it", "sales", "hr", "legal"):
                await client.department(dept)
            for person_id, (dept, roles) in PEOPLE.items():
                await client.person(person_id, dept, roles)
            await client.item("laptop", LAPTOP)
            await client.item("contract", CONTRACT)
            yield client


async def events_of(
    settings: Any,
    key: str | set[str],
    *,
    until: Callable[[list[str]], bool],
    timeout: float = 15,
    topic: Topic = REQUESTS,
) -> list[Envelope]:
    """The events of one aggregate (or several) on Kafka, read from the start of the topic
    until `until(types)` holds."""
    records = await read_keyed(
        settings.kafka_bootstrap_servers,
        settings.topic_name(topic.name),
        key,
        until=lambda found: until([decode(r.value).type for r in found]),
        timeout=timeout,
    )
    return [decode(r.value) for r in records]


@pytest.fixture
def events() -> Callable[..., Awaitable[list[Envelope]]]:
    return events_of


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    """Waits for something the background SLA scheduler does (it polls every 50 ms here)."""
    return eventually


@pytest.fixture
def unique() -> str:
    """A fresh suffix for ids a test creates, so tests sharing the app never collide."""
    return secrets.token_hex(3)
