"""Every query the platform runs on a hot path is served by a declared index.

The services run in-process on the real broker and store while a command listener records every
query they send (reads, the filters of updates, deletes and find-and-modify, counts): the HTTP
API's listings and reads as each role sees them, the relay's claims and scans, the scheduler's
due-work query, the consumers' inbox and projection reads. Each distinct query shape is then
explained by the server, and its winning plan must use an index, not scan the collection. A new
query without an index fails here, on the stand-in and on a real MongoDB alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo import AsyncMongoClient, monitoring

from icr.contracts import Envelope
from icr.contracts.feedback import RatingSubmitted
from icr.feedback.main import build_app as build_feedback
from icr.feedback.settings import FeedbackSettings
from icr.incentives.main import build_app as build_incentives
from icr.incentives.settings import IncentivesSettings
from icr.kit.settings import ServiceSettings
from icr.kit.testing import bearer, publish, service_settings_for_test, wait_ready
from icr.requests.main import build_app as build_requests
from icr.requests.settings import RequestsSettings

pytestmark = pytest.mark.infra

ADMIN = "root"
WEEK = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
READS = {"find", "count", "aggregate", "distinct"}
WRITES = {"update", "delete", "findAndModify"}


class Recorder(monitoring.CommandListener):
    """Collects (database, collection, filter, sort) of every query on the watched databases."""

    def __init__(self) -> None:
        self.databases: set[str] = set()
        self.queries: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name not in self.databases:
            return
        name, command = event.command_name, event.command
        if name not in READS | WRITES:
            return
        collection = command[name]
        if name == "find":
            self._add(event, collection, command.get("filter", {}), command.get("sort"))
        elif name in ("count", "distinct"):
            self._add(event, collection, command.get("query", {}), None)
        elif name == "aggregate":
            first = (command.get("pipeline") or [{}])[0]
            self._add(event, collection, first.get("$match", {}), None)
        elif name == "findAndModify":
            self._add(event, collection, command.get("query", {}), command.get("sort"))
        elif name == "update":
            for update in command.get("updates", []):
                self._add(event, collection, update.get("q", {}), None)
        elif name == "delete":
            for delete in command.get("deletes", []):
                self._add(event, collection, delete.get("q", {}), None)

    def _add(
        self,
        event: monitoring.CommandStartedEvent,
        collection: str,
        query: Any,
        sort: Any,
    ) -> None:
        self.queries.append((event.database_name, collection, dict(query), sort and dict(sort)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


RECORDER = Recorder()
monitoring.register(RECORDER)  # applies to the clients the apps build in their lifespans


def shape(value: Any) -> Any:
    """The query's structure without its values: fields and operators are what pick an index."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        # An $or's branches differ and each matters; an $in's values all look alike.
        return sorted({json.dumps(shape(v), sort_keys=True) for v in value})
    return "?"


def stages(plan: Any) -> list[str]:
    """Every stage name in an explain plan tree (MongoDB's and the stand-in's shape)."""
    found: list[str] = []
    if isinstance(plan, dict):
        if isinstance(plan.get("stage"), str):
            found.append(plan["stage"])
        for key in ("inputStage", "queryPlan", "winningPlan"):
            found += stages(plan.get(key))
        for child in plan.get("inputStages", []) or []:
            found += stages(child)
    return found


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            await wait_ready(http)
            yield http


async def exercise(requests: httpx.AsyncClient) -> list[str]:
    """The day-to-day traffic of a small organisation; returns the request ids it made."""

    async def call(method: str, path: str, actor: str, body: Any = None) -> Any:
        response = await requests.request(method, path, json=body, headers=bearer(actor))
        assert response.status_code < 300, (method, path, response.text)
        return response.json()

    for dept in ("it", "sales"):
        await call(
            "PUT",
            f"/departments/{dept}",
            ADMIN,
            {"name": {"en": dept}, "calendar": {"timezone": "UTC", "week": WEEK}},
        )
    people = {"ana": ("sales", ["employee"]), "bo": ("it", ["agent"]), "ivy": ("it", ["manager"])}
    for person, (dept, roles) in people.items():
        await call(
            "PUT",
            f"/people/{person}",
            ADMIN,
            {"name": person, "department_id": dept, "roles": roles},
        )
    minutes = {"first_response_minutes": 1, "resolution_minutes": 2}
    await call(
        "PUT",
        "/catalog/items/laptop",
        ADMIN,
        {
            "provider_department_id": "it",
            "name": {"en": "Laptop"},
            "owning_team": "desk",
            "targets": {p: minutes for p in ("low", "medium", "high", "critical")},
        },
    )
    ids = []
    for n in range(6):
        body = {"catalog_item_id": "laptop", "title": f"laptop {n}", "form": {}}
        ids.append((await call("POST", "/requests", "ana", body))["id"])
    await call("POST", f"/requests/{ids[0]}/accept", "bo")
    await call("POST", f"/requests/{ids[0]}/start", "bo")
    await call("POST", f"/requests/{ids[0]}/comment", "bo", {"body": "on it"})
    await call("POST", f"/requests/{ids[0]}/resolve", "bo", {"note": "done"})
    await call("POST", f"/requests/{ids[1]}/assign", "ivy", {"assignee_id": "bo"})
    await call("POST", f"/requests/{ids[2]}/cancel", "ana", {"reason": "not needed"})
    await call("GET", f"/requests/{ids[0]}", "ana")
    await call("GET", "/requests/batch?" + "&".join(f"id={i}" for i in ids), "ivy")
    await call("GET", "/people?id=ana&id=bo&id=ivy", "ana")  # the gateway's batch of people
    # The listings each role opens first, and the department queue.
    for actor in ("ana", "bo", "ivy"):
        await call("GET", "/requests", actor)
    await call("GET", "/requests?department=it&status=submitted&status=accepted", "bo")
    await call("GET", "/requests?assignee=bo", "bo")
    await call("GET", "/requests?requester=ana&sort=-created", "ana")
    await call("GET", "/catalog/items", "ana")
    return ids


async def exercise_feedback(
    requests: httpx.AsyncClient, feedback: httpx.AsyncClient, resolved: str
) -> None:
    """A rating's life and a campaign, as the requester, the provider's manager and an admin
    see them: invitation (consumer), rating, recovery request (the requests service's consumer)
    and its resolution linked back, the score projection and its timer, the department matrix
    (its consumer and its reads), campaign reads."""

    async def fb(method: str, path: str, actor: str, body: Any = None, **params: Any) -> Any:
        response = await feedback.request(
            method, path, json=body, headers=bearer(actor), params=params or None
        )
        assert response.status_code < 300, (method, path, response.text)
        return response.json() if response.content else None

    async def req(method: str, path: str, actor: str, body: Any = None) -> Any:
        headers = bearer(actor)
        response = await requests.request(method, path, json=body, headers=headers)
        assert response.status_code < 300, (method, path, response.text)
        return response.json()

    async with asyncio.timeout(30):
        while (
            await feedback.get(f"/ratings/{resolved}", headers=bearer("ana"))
        ).status_code != 200:
            await asyncio.sleep(0.1)
    rated = await fb("POST", f"/ratings/{resolved}", "ana", {"stars": 1, "comment": "slow"})
    await fb("PUT", f"/ratings/{resolved}", "ana", {"stars": 2})
    await fb("POST", f"/ratings/{resolved}/clarity", "bo", {"stars": 4})
    recovery = rated["recovery_request_id"]
    async with asyncio.timeout(30):
        while (
            await requests.get(f"/requests/{recovery}", headers=bearer("ivy"))
        ).status_code != 200:
            await asyncio.sleep(0.1)
    await req("POST", f"/requests/{recovery}/accept", "ivy")
    await req("POST", f"/requests/{recovery}/resolve", "ivy", {"note": "sorted"})
    async with asyncio.timeout(30):
        while (await fb("GET", f"/ratings/{resolved}", "ivy"))["recovery_resolved_at"] is None:
            await asyncio.sleep(0.1)
    await fb("GET", "/ratings/mine", "ana")
    await fb("GET", "/departments/it/ratings", "ivy")
    month = rated["requested_at"][:7]
    async with asyncio.timeout(30):
        while (
            await feedback.get(
                "/departments/it/scores",
                params={"period": "month", "key": month},
                headers=bearer("ivy"),
            )
        ).status_code != 200:
            await asyncio.sleep(0.1)
    await fb("GET", "/scores", ADMIN, period="month", key=month)
    # The department matrix: counts by period, ratings from the score cells, open backlog.
    async with asyncio.timeout(30):
        while not (await fb("GET", "/matrix", "ivy", period="month", key=month))["cells"]:
            await asyncio.sleep(0.1)
    await fb("GET", "/matrix", "ana", period="week", key=rated["requested_at"][:4] + "-W01")
    await fb("GET", "/departments/it/reciprocity", "bo", period="month", key=month)
    start = f"{month}-01T00:00:00Z"
    campaign = await fb(
        "POST",
        "/campaigns",
        ADMIN,
        {
            "name": "review",
            "period_start": start,
            "period_end": "2100-01-01T00:00:00Z",
            "questions": [{"question_id": "nps", "kind": "nps", "text": {"en": "?"}}],
        },
    )
    cid = campaign["campaign_id"]
    await fb("GET", "/campaigns", ADMIN)
    await fb("GET", f"/campaigns/{cid}/invitees", ADMIN)
    await fb("GET", f"/campaigns/{cid}/invitations", "ana")
    await fb(
        "POST",
        f"/campaigns/{cid}/evaluations",
        "ana",
        {"provider_department_id": "it", "scores": {"nps": 9}},
    )
    await fb("GET", f"/campaigns/{cid}/results", "ivy", department="it")
    await fb("POST", f"/campaigns/{cid}/close", ADMIN)


async def exercise_incentives(
    incentives: httpx.AsyncClient, settings: IncentivesSettings, ids: list[str]
) -> None:
    """Points for a resolved and rated request, recognition, rewards and redemptions, policy and
    what-if, and every read each role opens."""

    async def call(method: str, path: str, actor: str, body: Any = None) -> Any:
        response = await incentives.request(method, path, json=body, headers=bearer(actor))
        assert response.status_code < 300, (method, path, response.text)
        return response.json()

    async with asyncio.timeout(30):
        while (await incentives.get("/accounts/me", headers=bearer("ivy"))).status_code != 200:
            await asyncio.sleep(0.1)  # the directory reached the incentives service
    rating = RatingSubmitted(
        request_id=ids[0],
        rater_id="ana",
        rater_department_id="sales",
        provider_department_id="it",
        assignee_id="bo",
        stars=5,
        submitted_at=datetime.now(UTC),
    )
    await publish(settings, Envelope.wrap(rating, source="feedback"))
    query = "&".join(f"request_id={i}" for i in ids)
    async with asyncio.timeout(30):
        while True:
            rows = await call("GET", f"/tracked-requests?{query}", "ana")
            if len(rows) == len(ids) and any(r["settlement"] == "settled" for r in rows):
                break
            await asyncio.sleep(0.1)
    why = {"recipient_id": "bo", "points": 5, "message": "Thanks for the fast laptop!"}
    await call("POST", "/recognitions", "ana", {**why, "value": "teamwork"})
    for actor in ("ana", "bo", "ivy"):
        await call("GET", "/accounts/me", actor)
        await call("GET", "/allowances/me", actor)
        await call("GET", "/leaderboards/people", actor)
        await call("GET", "/leaderboards/departments?period=all", actor)
        await call("GET", "/rewards", actor)
        await call("GET", "/redemptions", actor)
    page = await call("GET", "/accounts/bo/entries?limit=1", "ivy")
    await call("GET", f"/accounts/bo/entries?limit=1&cursor={page['next_cursor']}", "bo")
    await call("GET", "/departments/it/accounts", "ivy")
    await call("GET", "/policies", ADMIN)
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    current = await call("GET", "/policies/current", ADMIN)
    proposal = {k: current[k] for k in ("rules", "recognition", "pair_cap_per_month")}
    await call("POST", "/policies", ADMIN, {**proposal, "effective_from": soon})
    period = {"from": (datetime.now(UTC) - timedelta(days=30)).isoformat(), "to": soon}
    await call("POST", "/policies/what-if", ADMIN, {"policy": proposal, **period})
    await call("PUT", "/rewards/mug", ADMIN, {"name": {"en": "Mug"}, "cost": 1, "stock": 5})
    first = await call("POST", "/redemptions", "bo", {"reward_id": "mug"})
    second = await call("POST", "/redemptions", "bo", {"reward_id": "mug"})
    await call("GET", "/redemptions?state=reserved", ADMIN)
    await call("GET", "/redemptions?person_id=bo", ADMIN)
    await call("GET", "/redemptions", ADMIN)
    await call("POST", f"/redemptions/{first['id']}/fulfil", ADMIN)
    await call("POST", f"/redemptions/{second['id']}/cancel", ADMIN, {"reason": "no"})
    await asyncio.sleep(1.0)  # the timers' scans and the relay's publishing of all that


async def test_every_hot_path_query_is_served_by_a_declared_index() -> None:
    prefix = service_settings_for_test(ServiceSettings).kafka_topic_prefix
    requests_settings = service_settings_for_test(
        RequestsSettings,
        kafka_topic_prefix=prefix,
        bootstrap_admins=ADMIN,
        sla_poll_seconds=0.1,
    )
    feedback_settings = service_settings_for_test(
        FeedbackSettings,
        kafka_topic_prefix=prefix,
        bootstrap_admins=ADMIN,
        timer_poll_seconds=0.1,
        score_publish_delay_seconds=0,
    )
    incentives_settings = service_settings_for_test(
        IncentivesSettings,
        kafka_topic_prefix=prefix,
        bootstrap_admins=ADMIN,
        timer_poll_seconds=0.1,
    )
    settings = (requests_settings, feedback_settings, incentives_settings)
    RECORDER.databases = {s.database for s in settings}
    RECORDER.queries.clear()
    apps = (
        build_requests(requests_settings),
        build_feedback(feedback_settings),
        build_incentives(incentives_settings),
    )
    async with (
        running(apps[0]) as requests,
        running(apps[1]) as feedback,
        running(apps[2]) as incentives,
    ):
        ids = await exercise(requests)
        await exercise_feedback(requests, feedback, ids[0])
        # The read endpoints the gateway batches through (ratings exist for resolved requests).
        query = "&".join(f"request_id={i}" for i in ids)
        found = await feedback.get(f"/ratings?{query}", headers=bearer("ana"))
        assert [r["request_id"] for r in found.json()] == [ids[0]]
        async with asyncio.timeout(30):
            while len(
                (await incentives.get(f"/tracked-requests?{query}", headers=bearer(ADMIN))).json()
            ) < len(ids):
                await asyncio.sleep(0.1)
        await exercise_incentives(incentives, incentives_settings, ids)
        # Meanwhile the SLA scheduler's due-work scans ran every 0.1 s, the relays' scans and
        # claims and the consumers' inbox and projection writes ran for every event: all recorded.
    RECORDER.databases = set()

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(requests_settings.mongo_url)
    try:
        seen: dict[str, tuple[str, str, dict[str, Any], dict[str, Any] | None]] = {}
        for db, collection, filter_, sort in RECORDER.queries:
            key = json.dumps([db.split("_")[-1], collection, shape(filter_), sort], default=str)
            seen.setdefault(key, (db, collection, filter_, sort))
        assert len(seen) > 10, f"too few queries recorded to mean anything: {list(seen)}"
        scans = []
        for db, collection, filter_, sort in seen.values():
            if not filter_ and sort is None:
                scans.append(f"{db}.{collection}: an unfiltered query reads every document")
                continue
            find: dict[str, Any] = {"find": collection, "filter": filter_}
            if sort:
                find["sort"] = sort
            plan = await client[db].command({"explain": find, "verbosity": "queryPlanner"})
            winning = stages(plan.get("queryPlanner", plan))
            if not winning or "COLLSCAN" in winning:
                scans.append(f"{db}.{collection} {filter_} sort {sort}: {winning}")
        assert not scans, "queries not served by an index:\n" + "\n".join(scans)
    finally:
        for s in settings:
            await client.drop_database(s.database)
        await client.close()
