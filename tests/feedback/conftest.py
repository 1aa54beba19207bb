"""The requests and feedback services in this process on the real broker and store, driven
through the requests service's HTTP API as people would (the feedback service learns everything
from the requests service's events)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from icr.contracts import topics
from icr.feedback.main import build_app as build_feedback
from icr.feedback.settings import FeedbackSettings
from icr.kit.clock import Clock, system_clock
from icr.kit.kafka import ensure_topics
from icr.kit.settings import ServiceSettings
from icr.kit.testing import bearer, service_settings_for_test, wait_ready
from icr.requests.main import build_app as build_requests
from icr.requests.settings import RequestsSettings

ADMIN = "root"
WEEK = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _headers(actor: str) -> dict[str, str]:
    # Both ways of naming the caller the requests service has accepted (a bearer token is
    # what it verifies once identity reaches it; the header is what it read before).
    return bearer(actor)


@dataclass
class Platform:
    requests: httpx.AsyncClient
    feedback: httpx.AsyncClient
    feedback_settings: FeedbackSettings
    requests_settings: RequestsSettings

    async def req(self, method: str, path: str, actor: str, body: Any = None) -> Any:
        response = await self.requests.request(method, path, json=body, headers=_headers(actor))
        assert response.status_code < 300, (method, path, response.text)
        return response.json()

    async def fb(self, method: str, path: str, actor: str, **kwargs: Any) -> httpx.Response:
        return await self.feedback.request(method, path, headers=bearer(actor), **kwargs)

    async def until(self, probe: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (found := await probe()):
                await asyncio.sleep(0.1)
        return found

    async def fb_json(self, path: str, actor: str, **kwargs: Any) -> Any:
        """The body of a feedback GET once it answers 200 (projections are eventual)."""

        async def probe() -> Any:
            response = await self.fb("GET", path, actor, **kwargs)
            return response.json() if response.status_code == 200 else None

        return await self.until(probe)

    async def seed(
        self, people: dict[str, tuple[str, list[str]]], managers: dict[str, str]
    ) -> None:
        for dept in sorted({d for d, _ in people.values()}):
            body: dict[str, Any] = {
                "name": {"en": dept},
                "calendar": {"timezone": "UTC", "week": WEEK},
            }
            await self.req("PUT", f"/departments/{dept}", ADMIN, body)
        for person, (dept, roles) in people.items():
            body = {"name": person.title(), "department_id": dept, "roles": roles}
            await self.req("PUT", f"/people/{person}", ADMIN, body)
        for dept, manager in managers.items():
            body = {
                "name": {"en": dept},
                "manager_id": manager,
                "calendar": {"timezone": "UTC", "week": WEEK},
            }
            await self.req("PUT", f"/departments/{dept}", ADMIN, body)
        minutes = {"first_response_minutes": 60, "resolution_minutes": 600}
        for dept in managers:
            await self.req(
                "PUT",
                f"/catalog/items/help-{dept}",
                ADMIN,
                {
                    "provider_department_id": dept,
                    "name": {"en": f"Help from {dept}"},
                    "owning_team": "desk",
                    "targets": {p: minutes for p in ("low", "medium", "high", "critical")},
                },
            )

    async def served(self, requester: str, provider: str, agent: str, title: str = "help") -> str:
        """`requester` asks `provider` for help and `agent` resolves it; the request's id."""
        body = {"catalog_item_id": f"help-{provider}", "title": title, "form": {}}
        rid: str = (await self.req("POST", "/requests", requester, body))["id"]
        await self.req("POST", f"/requests/{rid}/accept", agent)
        await self.req("POST", f"/requests/{rid}/start", agent)
        await self.req("POST", f"/requests/{rid}/resolve", agent, {"note": "done"})
        return rid


@contextlib.asynccontextmanager
async def _running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            await wait_ready(http)
            yield http


@contextlib.asynccontextmanager
async def platform_running(
    clock: Clock = system_clock, **feedback_overrides: Any
) -> AsyncIterator[Platform]:
    """Both services; `clock` (both share it) lets a test place every moment exactly."""
    prefix = service_settings_for_test(ServiceSettings).kafka_topic_prefix
    requests_settings = service_settings_for_test(
        RequestsSettings, kafka_topic_prefix=prefix, bootstrap_admins=ADMIN
    )
    feedback_settings = service_settings_for_test(
        FeedbackSettings,
        kafka_topic_prefix=prefix,
        bootstrap_admins=ADMIN,
        timer_poll_seconds=0.1,
        score_publish_delay_seconds=0,
        **feedback_overrides,
    )
    # Each service creates the topics it writes; both exist before either consumer subscribes.
    await ensure_topics(requests_settings, topics.ALL)
    async with (
        _running(build_requests(requests_settings, clock=clock)) as requests,
        _running(build_feedback(feedback_settings, clock=clock)) as feedback,
    ):
        yield Platform(requests, feedback, feedback_settings, requests_settings)


@pytest.fixture
def platform() -> Callable[..., contextlib.AbstractAsyncContextManager[Platform]]:
    return platform_running
