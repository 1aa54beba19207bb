"""The gateway in-process in front of the real requests and feedback services (in-process too,
on the real Kafka and store, the feedback service fed by the requests service's events), every
call between the gateway and each service counted at the service's door."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from icr.feedback.main import build_app as build_feedback
from icr.feedback.settings import FeedbackSettings
from icr.gateway.cache import ReadCache
from icr.gateway.main import build_app
from icr.gateway.settings import GatewaySettings
from icr.incentives.main import build_app as build_incentives
from icr.incentives.settings import IncentivesSettings
from icr.kit.testing import auth_settings_for_test, bearer, service_settings_for_test, wait_ready
from icr.requests.main import build_app as build_requests
from icr.requests.settings import RequestsSettings

ADMIN = "gw-admin"
WEEK = {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}
PEOPLE = {
    "ana": ("sales", ["employee"]),
    "sam": ("sales", ["manager"]),
    "bo": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
    "eve": ("hr", ["agent"]),
}
TARGETS = {
    p: {"first_response_minutes": 60, "resolution_minutes": 960}
    for p in ("low", "medium", "high", "critical")
}
LAPTOP = {
    "provider_department_id": "it",
    "name": {"en": "New laptop", "zh-CN": "新笔记本电脑"},
    "owning_team": "it-desk",
    "fields": [
        {"type": "choice", "name": "model", "required": True, "options": ["standard", "pro"]},
        {"type": "number", "name": "quantity", "minimum": 1, "maximum": 5, "integer": True},
    ],
    "targets": TARGETS,
}
CONTRACT = {
    "provider_department_id": "hr",
    "name": {"en": "Contract review"},
    "owning_team": "hr-desk",
    "targets": TARGETS,
}


@dataclass
class Counting(httpx.AsyncBaseTransport):
    """The requests service's door: records every call the gateway makes."""

    inner: httpx.AsyncBaseTransport
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        ids = len(request.url.params.get_list("id"))
        self.calls.append((request.method, request.url.path, ids))
        return await self.inner.handle_async_request(request)

    def paths(self) -> list[str]:
        return [f"{m} {p}" for m, p, _ in self.calls]


@dataclass
class Stack:
    gateway: httpx.AsyncClient
    requests: httpx.AsyncClient
    door: Counting
    settings: RequestsSettings
    feedback: httpx.AsyncClient | None = None
    feedback_door: Counting | None = None
    admin: str = ADMIN
    incentives: httpx.AsyncClient | None = None
    incentives_door: Counting | None = None
    cache: ReadCache | None = None  # the gateway's read cache (icr.gateway.cache)

    def gateway_settings(self, **overrides: Any) -> GatewaySettings:
        """Settings of a gateway in front of this requests service, on its Kafka topics."""
        return GatewaySettings(
            **auth_settings_for_test(),
            requests_url="http://requests",
            feedback_url="http://feedback",
            incentives_url="http://incentives",
            kafka_bootstrap_servers=self.settings.kafka_bootstrap_servers,
            kafka_topic_prefix=self.settings.kafka_topic_prefix,
            **overrides,
        )

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, actor: str
    ) -> httpx.Response:
        return await self.gateway.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=as_(actor)
        )

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, actor: str
    ) -> dict[str, Any]:
        response = await self.raw(query, variables, actor=actor)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return dict(body["data"])

    async def submit(self, actor: str = "ana", item: str = "laptop", **extra: Any) -> str:
        body = {"catalog_item_id": item, "title": "Laptop", "form": {"model": "pro"}, **extra}
        response = await self.requests.post("/requests", json=body, headers=as_(actor))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


def as_(person: str) -> dict[str, str]:
    """A person's bearer token."""
    return bearer(person)


async def _seed(http: httpx.AsyncClient) -> None:
    for dept in ("it", "sales", "hr"):  # managers once their people exist
        body = {
            "name": {"en": dept.upper(), "zh-CN": f"{dept}部"},
            "calendar": {"timezone": "Asia/Shanghai", "week": WEEK},
        }
        response = await http.put(f"/departments/{dept}", json=body, headers=as_(ADMIN))
        assert response.status_code in (200, 201), response.text
    for person, (dept, roles) in PEOPLE.items():
        body = {"name": person.title(), "department_id": dept, "roles": roles}
        response = await http.put(f"/people/{person}", json=body, headers=as_(ADMIN))
        assert response.status_code in (200, 201), response.text
    for dept, manager in (("it", "ivy"), ("sales", "sam")):
        body = {
            "name": {"en": dept.upper(), "zh-CN": f"{dept}部"},
            "manager_id": manager,
            "calendar": {"timezone": "Asia/Shanghai", "week": WEEK},
        }
        response = await http.put(f"/departments/{dept}", json=body, headers=as_(ADMIN))
        assert response.status_code in (200, 201), response.text
    for item, body in (("laptop", LAPTOP), ("contract", CONTRACT)):
        response = await http.put(f"/catalog/items/{item}", json=body, headers=as_(ADMIN))
        assert response.status_code in (200, 201), response.text


async def _known_to_incentives(http: httpx.AsyncClient) -> None:
    """The incentives service learns the directory from the requests service's events: wait
    until it knows everyone seeded (an unknown person is a 401 there)."""
    async with asyncio.timeout(60):
        for person in PEOPLE:
            while (await http.get("/accounts/me", headers=as_(person))).status_code != 200:
                await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    settings = service_settings_for_test(RequestsSettings, bootstrap_admins=ADMIN)
    feedback_settings = service_settings_for_test(
        FeedbackSettings,
        kafka_topic_prefix=settings.kafka_topic_prefix,
        bootstrap_admins=ADMIN,
        anonymity_threshold=2,
        timer_poll_seconds=0.1,
        score_publish_delay_seconds=0,
    )
    incentives_settings = service_settings_for_test(
        IncentivesSettings,
        kafka_topic_prefix=settings.kafka_topic_prefix,
        bootstrap_admins=ADMIN,
        consumer_members=1,
        timer_poll_seconds=0.2,
        projection_grace_seconds=1.0,
        redemption_grace_seconds=1.0,
    )
    async with (
        LifespanManager(build_requests(settings)) as running,
        LifespanManager(build_feedback(feedback_settings)) as feedback_running,
        LifespanManager(build_incentives(incentives_settings)) as incentives_running,
    ):
        inner = httpx.ASGITransport(app=running.app)
        feedback_inner = httpx.ASGITransport(app=feedback_running.app)
        incentives_inner = httpx.ASGITransport(app=incentives_running.app)
        async with (
            httpx.AsyncClient(transport=inner, base_url="http://requests") as direct,
            httpx.AsyncClient(transport=feedback_inner, base_url="http://feedback") as feedback,
            httpx.AsyncClient(
                transport=incentives_inner, base_url="http://incentives"
            ) as incentives,
        ):
            await wait_ready(direct)
            await wait_ready(feedback)
            await wait_ready(incentives)
            await _seed(direct)
            await _known_to_incentives(incentives)
            door, feedback_door = Counting(inner), Counting(feedback_inner)
            incentives_door = Counting(incentives_inner)
            stack = Stack(None, direct, door, settings, feedback, feedback_door)  # type: ignore[arg-type]
            stack.incentives, stack.incentives_door = incentives, incentives_door
            app = build_app(
                stack.gateway_settings(),
                transports={
                    "requests": door,
                    "feedback": feedback_door,
                    "incentives": incentives_door,
                },
            )
            async with LifespanManager(app) as gateway_app:
                transport = httpx.ASGITransport(app=gateway_app.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://gateway"
                ) as gateway:
                    stack.gateway = gateway
                    stack.cache = app.state.clients.cache
                    yield stack


@pytest.fixture
def unique() -> str:
    return secrets.token_hex(3)
