"""The incentives service on the real broker and store: events published to Kafka as the
requests and feedback services would publish them, and the invariants checked in the store
(helpers are fixtures: test modules are not importable under --import-mode=importlib)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from icr.contracts import Envelope, Event, new_id, topics
from icr.contracts.feedback import RatingExpired, RatingSubmitted, RecoveryNeeded
from icr.contracts.requests import (
    PersonUpserted,
    RequestReopened,
    RequestResolved,
    RequestSubmitted,
)
from icr.incentives.domain.ledger import EARNING, Kind, is_department
from icr.incentives.domain.periods import periods_of
from icr.incentives.handlers.deps import Deps
from icr.incentives.main import build_app
from icr.incentives.settings import IncentivesSettings
from icr.incentives.store.boards import BOARDS
from icr.incentives.store.ledger import LEDGER, LedgerStore
from icr.incentives.wiring import deps_of
from icr.kit.kafka import ensure_topics
from icr.kit.mongo import Mongo
from icr.kit.service import Runtime
from icr.kit.testing import publish, service_settings_for_test, wait_ready

PEOPLE = {
    "ana": ("sales", ["employee"]),
    "bo": ("it", ["agent"]),
    "cy": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
    "sam": ("sales", ["manager"]),
    "root": ("", ["admin"]),
}


def settings_for_test(**overrides: Any) -> IncentivesSettings:
    return service_settings_for_test(
        IncentivesSettings,
        timer_poll_seconds=0.2,
        projection_grace_seconds=1.0,
        redemption_grace_seconds=1.0,
        **overrides,
    )


@dataclass
class Flow:
    """Envelopes of one request's life, as requests and feedback publish them."""

    request_id: str = field(default_factory=new_id)
    requester: str = "ana"
    requester_dept: str = "sales"
    assignee: str = "bo"

    def _wrap(self, event: Event, source: str) -> Envelope:
        return Envelope.wrap(event, source=source)

    def submitted(self) -> Envelope:
        return self._wrap(
            RequestSubmitted(
                request_id=self.request_id,
                title="New laptop",
                catalog_item_id="laptop",
                catalog_item_version=1,
                requester_id=self.requester,
                requester_department_id=self.requester_dept,
                provider_department_id="it",
                priority="medium",
                submitted_at=datetime.now(UTC),
            ),
            "requests",
        )

    def resolved(self, *, met: bool = True, round: int = 0) -> Envelope:
        return self._wrap(
            RequestResolved(
                request_id=self.request_id,
                resolved_by=self.assignee,
                resolved_at=datetime.now(UTC),
                note="done",
                assignee_id=self.assignee,
                provider_department_id="it",
                requester_id=self.requester,
                requester_department_id=self.requester_dept,
                first_response_met=True,
                resolution_met=met,
                first_response_seconds=60,
                resolution_seconds=600,
                reopen_count=round,
            ),
            "requests",
        )

    def rated(self, stars: int) -> Envelope:
        return self._wrap(
            RatingSubmitted(
                request_id=self.request_id,
                rater_id=self.requester,
                rater_department_id=self.requester_dept,
                provider_department_id="it",
                assignee_id=self.assignee,
                stars=stars,
                submitted_at=datetime.now(UTC),
            ),
            "feedback",
        )

    def expired(self) -> Envelope:
        return self._wrap(
            RatingExpired(
                request_id=self.request_id,
                rater_id=self.requester,
                provider_department_id="it",
                expired_at=datetime.now(UTC),
            ),
            "feedback",
        )

    def recovery(self) -> Envelope:
        return self._wrap(
            RecoveryNeeded(
                request_id=self.request_id,
                rater_id=self.requester,
                rater_department_id=self.requester_dept,
                provider_department_id="it",
                stars=1,
                raised_at=datetime.now(UTC),
            ),
            "feedback",
        )

    def reopened(self, round: int = 1) -> Envelope:
        return self._wrap(
            RequestReopened(
                request_id=self.request_id,
                reopened_by=self.requester,
                reopened_at=datetime.now(UTC),
                reason="still broken",
                assignee_id=self.assignee,
                provider_department_id="it",
                reopen_count=round,
            ),
            "requests",
        )


def directory() -> list[Envelope]:
    return [
        Envelope.wrap(
            PersonUpserted(
                person_id=person,
                name=person.title(),
                department_id=dept,
                roles=roles,
                upserted_at=datetime.now(UTC),
            ),
            source="requests",
        )
        for person, (dept, roles) in PEOPLE.items()
    ]


@dataclass
class Service:
    settings: IncentivesSettings
    app: Any
    http: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def deps(self) -> Deps:
        return deps_of(self.runtime)

    async def publish(self, *envelopes: Envelope) -> None:
        await publish(self.settings, *envelopes)

    async def balance(self, account: str) -> int:
        found = await self.deps.accounts.get(account)
        return found.balance if found else 0


@contextlib.asynccontextmanager
async def running(settings: IncentivesSettings) -> AsyncIterator[Service]:
    app = build_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://incentives") as http:
            await wait_ready(http)
            yield Service(settings, app, http)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def check_invariant(settings: IncentivesSettings) -> dict[str, int]:
    """Ledger sum = balance per account; earning entries = every leaderboard line; each (source
    event, rule, account) once; every entry counted. Returns the balances."""
    mongo = Mongo(settings)
    try:
        ledger = mongo.collection(LEDGER)
        entries = await ledger.find({}).to_list()
        keys = [(e["source_event_id"], e["rule_id"], e["account"]) for e in entries]
        assert len(keys) == len(set(keys)), "a source event was counted twice"
        assert all(e.get("project_due") is None for e in entries), "an entry was never counted"
        revoked = [e["revokes"] for e in entries if e["kind"] == Kind.REVOKE]
        assert len(revoked) == len(set(revoked)), "an award was revoked twice"
        sums: dict[str, int] = defaultdict(int)
        lines: dict[str, int] = defaultdict(int)
        for e in entries:
            sums[e["account"]] += e["amount"]
            if Kind(e["kind"]) in EARNING:
                for period in periods_of(e["at"]):
                    if not is_department(e["account"]):
                        lines[f"people:{period}:{e['account']}"] += e["amount"]
                    lines[f"departments:{period}:{e['department_id']}"] += e["amount"]
        accounts = {a["_id"]: a async for a in mongo.collection("accounts").find({})}
        assert {k: a["balance"] for k, a in accounts.items()} == dict(sums)
        for a in accounts.values():
            assert a["available"] == a["balance"] - a.get("reserved", 0)
            assert a["available"] >= 0
        board = {line["_id"]: line["points"] async for line in mongo.collection(BOARDS).find({})}
        assert board == dict(lines)
        return dict(sums)
    finally:
        await mongo.close()


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    settings = settings_for_test()
    # The topics other services own (they create them when they start; here nobody does).
    await ensure_topics(settings, [topics.REQUESTS, topics.DIRECTORY, topics.RATINGS])
    async with running(settings) as svc:
        await svc.publish(*directory())
        view = svc.deps.people
        for person in PEOPLE:  # the directory topic has 3 partitions: any order
            await eventually(lambda person=person: _known(view, person))
        yield svc
    mongo = Mongo(settings)
    await mongo.client.drop_database(settings.database)
    await mongo.close()


async def _known(view: Any, person: str) -> bool:
    return await view.person(person) is not None


@pytest.fixture
def flow() -> type[Flow]:
    return Flow


@pytest.fixture
def invariant() -> Callable[[IncentivesSettings], Awaitable[dict[str, int]]]:
    return check_invariant


@pytest.fixture
def fresh_settings() -> Callable[..., IncentivesSettings]:
    return settings_for_test


@pytest.fixture
def run() -> Callable[..., Any]:
    return running


@pytest.fixture
def ledger_of() -> Callable[[Service], LedgerStore]:
    def get(svc: Service) -> LedgerStore:
        ledger = svc.deps.ledger
        assert isinstance(ledger, LedgerStore)
        return ledger

    return get


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    return eventually
