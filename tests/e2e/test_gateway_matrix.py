"""The gateway's authorization matrix: every Query, Mutation and Subscription field, found in
the running gateway's schema (a new operation without a row fails
`test_every_gateway_operation_has_a_row`), called by an employee (the requester, Sales), an
agent and the manager of the providing department (IT), an administrator, a person of another
department (HR), and with no token or a bad one. Each cell's outcome is asserted:

- `data`: the answer (`empty` when the list is empty for that caller, `null` when the thing
  is not visible to the caller, as the services answer);
- `Forbidden`, `NotFound`, `Conflict`, `InvalidInput`: a mutation's typed problem;
- `FORBIDDEN`: a query's error code (the service refused the caller);
- `UNAUTHENTICATED`: no valid token (every operation; a websocket is closed with 4403);
- subscriptions: `events` (the caller gets the service's event), `nothing` (subscribed, but
  the event is about a request the caller may not see), `subscribed` (accepted, no event is
  produced for it in the test).

State-changing cells get fresh state for each caller (a request in the right status, a
campaign), so each cell is the caller's rights and nothing else. The gateway forwards the
caller's token: these are the services' rules, and the gateway never widens them.

Another engineer adding operations (the incentives domain) adds their rows here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets

from icr.kit.testing import bearer, token_for

from .conftest import ADMIN, Platform
from .org import Org, build_org, eventually, ok
from .test_gateway_flows import SUBMIT, act

pytestmark = pytest.mark.e2e

PERSONAS = ("employee", "agent", "manager", "admin", "other")
PROBLEMS = ("Forbidden", "NotFound", "Conflict", "InvalidInput")


def person(world: World, persona: str) -> str:
    org = world.org
    roles = {"employee": world.requester, "agent": org.bo, "manager": org.ivy, "admin": org.root}
    return roles.get(persona, org.eve)


def month() -> dict[str, str]:
    return {"kind": "MONTH", "key": datetime.now(UTC).strftime("%Y-%m")}


class World:
    """The organisation, and fresh state on demand."""

    def __init__(self, platform: Platform, org: Org) -> None:
        self.platform, self.org = platform, org
        self.requester = org.ana  # the employee of the current cell
        self.hired = 0

    def hire(self) -> str:
        """A new Sales employee: the feedback service asks one person at most four times a
        month (its invitation cap), so each rating cell gets a requester of its own."""
        self.hired += 1
        person = f"{self.org.ana}-{self.hired}"
        i = {"id": person, "name": "Ana", "departmentId": self.org.sales, "roles": ["EMPLOYEE"]}
        upsert = "mutation($i: PersonInput!) { upsertPerson(input: $i) { __typename } }"
        ok(self.platform.graphql(upsert, {"i": i}, actor=self.org.root)["upsertPerson"], "Person")
        return person

    def request_in(self, state: str) -> str:
        p, org = self.platform, self.org
        rating = state.endswith(("+invited", "+rated"))
        self.requester = self.hire() if rating else org.ana
        i = {"catalogItemId": org.laptop, "title": "Matrix laptop", "form": {"model": "pro"}}
        submitted = p.graphql(SUBMIT, {"i": i}, actor=self.requester)["submitRequest"]
        rid = str(ok(submitted, "ServiceRequest")["id"])
        steps: dict[str, list[tuple[str, dict[str, str]]]] = {
            "submitted": [],
            "accepted": [("accept", {})],
            "in_progress": [("accept", {}), ("start", {})],
            "waiting": [("accept", {}), ("ask", {"q": "Which colour?"})],
            "resolved": [("accept", {}), ("start", {}), ("resolve", {"n": "Done"})],
        }[state.removesuffix("+invited").removesuffix("+rated")]
        for action, args in steps:
            act(p, action, rid, org.bo, **args)
        if state.endswith(("+invited", "+rated")):
            eventually(lambda: self.invited(rid))
        if state.endswith("+rated"):
            rated = p.graphql(RATE, {"id": rid, "i": {"stars": 4}}, actor=self.requester)["rate"]
            ok(rated, "Rating")
        return rid

    def invited(self, rid: str) -> bool:
        query = "{ myRatingInvitations { requestId } }"
        found = self.platform.graphql(query, actor=self.requester)["myRatingInvitations"]
        return any(r["requestId"] == rid for r in found)

    def open_campaign(self) -> str:
        now = datetime.now(UTC)
        campaign = {
            "name": "Matrix review",
            "periodStart": (now - timedelta(days=1)).isoformat(),
            "periodEnd": (now + timedelta(days=1)).isoformat(),
            "questions": [{"id": "nps", "kind": "NPS", "texts": {"en": "Recommend?"}}],
        }
        opened = self.platform.graphql(OPEN, {"i": campaign}, actor=self.org.root)
        return str(ok(opened["openCampaign"], "Campaign")["id"])


RATE = """mutation($id: ID!, $i: RatingInput!) { rate(requestId: $id, input: $i) { __typename } }"""
OPEN = (
    "mutation($i: CampaignInput!) { openCampaign(input: $i) { __typename ... on Campaign { id } } }"
)
WEEK = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass(frozen=True)
class Row:
    """One operation: its document, its variables for a caller, and each caller's outcome."""

    document: str
    expect: dict[str, str]
    variables: Callable[[World, str], dict[str, Any]] = lambda w, p: {}
    state: str | None = None  # a fresh request in this state for each caller, as $id
    campaign: bool = False  # a fresh campaign for each caller, as $campaign
    events: Callable[[World, str], None] | None = None  # subscriptions: what makes an event
    # The part of the answer that is the cell (default: the whole field).
    pick: Callable[[Any, dict[str, Any]], Any] | None = None


def cells(employee: str, agent: str, manager: str, admin: str, other: str) -> dict[str, str]:
    return dict(zip(PERSONAS, (employee, agent, manager, admin, other), strict=True))


ALL = cells("data", "data", "data", "data", "data")
PROVIDER = cells("Forbidden", "data", "data", "data", "NotFound")
REQUESTER = cells("data", "Forbidden", "Forbidden", "data", "NotFound")
ONLY_REQUESTER = cells("data", "Forbidden", "Forbidden", "Forbidden", "NotFound")
PARTIES = cells("data", "data", "data", "data", "NotFound")
ADMIN_ONLY = cells("Forbidden", "Forbidden", "Forbidden", "data", "Forbidden")
# The feedback service: only the invited requester rates; anyone else is refused outright.
RATER_ONLY = cells("data", "Forbidden", "Forbidden", "Forbidden", "Forbidden")
SEEN_BY_PARTIES = cells("data", "data", "data", "data", "null")
R = "__typename"  # a mutation's answer: its type is the outcome


def dept(w: World, p: str) -> dict[str, Any]:
    return {"d": w.org.it}


def period(w: World, p: str) -> dict[str, Any]:
    return {"p": month()}


QUERIES: dict[str, Row] = {
    "Query.me": Row("{ me { id } }", ALL),
    "Query.departments": Row("{ departments { id } }", ALL),
    "Query.department": Row("query($d: ID!) { department(id: $d) { id } }", ALL, dept),
    "Query.person": Row(
        "query($p: ID!) { person(id: $p) { id } }", ALL, lambda w, p: {"p": w.org.ana}
    ),
    "Query.people": Row(
        "query($p: ID!) { people(ids: [$p]) { id } }", ALL, lambda w, p: {"p": w.org.ana}
    ),
    "Query.catalog": Row("query($d: ID) { catalog(departmentId: $d) { id } }", ALL, dept),
    "Query.catalogItem": Row(
        "query($i: ID!) { catalogItem(id: $i) { id } }", ALL, lambda w, p: {"i": w.org.laptop}
    ),
    "Query.request": Row(
        "query($id: ID!) { request(id: $id) { id } }", SEEN_BY_PARTIES, state="submitted"
    ),
    "Query.requestsByIds": Row(
        "query($id: ID!) { requestsByIds(ids: [$id]) { id } }", SEEN_BY_PARTIES, state="submitted"
    ),
    "Query.requests": Row(
        "query($d: ID!) { requests(filter: {providerDepartmentIds: [$d]}, first: 100) "
        "{ nodes { id } } }",
        SEEN_BY_PARTIES,
        dept,
        state="submitted",
        pick=lambda value, v: [n for n in value["nodes"] if n["id"] == v["id"]] or None,
    ),
    "Query.rating": Row(
        "query($id: ID!) { rating(requestId: $id) { status } }",
        SEEN_BY_PARTIES,
        state="resolved+rated",
    ),
    "Query.myRatings": Row(
        "{ myRatings { status } }",
        cells("data", "empty", "empty", "empty", "empty"),
        state="resolved+invited",
    ),
    "Query.myRatingInvitations": Row(
        "{ myRatingInvitations { status } }",
        cells("data", "empty", "empty", "empty", "empty"),
        state="resolved+invited",
    ),
    "Query.departmentRatings": Row(
        "query($d: ID!) { departmentRatings(departmentId: $d) { status } }",
        cells("FORBIDDEN", "data", "data", "data", "FORBIDDEN"),
        dept,
        state="resolved+rated",
    ),
    "Query.departmentScores": Row(
        "query($d: ID!, $p: PeriodInput!) { departmentScores(departmentId: $d, period: $p) "
        "{ department { ratings } } }",
        cells("FORBIDDEN", "data", "data", "data", "FORBIDDEN"),
        lambda w, p: {"d": w.org.it, "p": month()},
        state="resolved+rated",
    ),
    "Query.scores": Row(
        "query($p: PeriodInput!) { scores(period: $p) { organisationMean } }",
        cells("FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "data", "FORBIDDEN"),
        period,
    ),
    "Query.departmentMatrix": Row(
        "query($p: PeriodInput!) { departmentMatrix(period: $p) { periodKey } }", ALL, period
    ),
    "Query.reciprocity": Row(
        "query($d: ID!, $p: PeriodInput!) { reciprocity(departmentId: $d, period: $p) "
        "{ provided } }",
        cells("FORBIDDEN", "data", "data", "data", "FORBIDDEN"),
        lambda w, p: {"d": w.org.it, "p": month()},
    ),
    "Query.campaigns": Row("{ campaigns { id } }", ALL, campaign=True),
    "Query.campaign": Row(
        "query($campaign: ID!) { campaign(id: $campaign) { id } }", ALL, campaign=True
    ),
}


def action(name: str, args: str = "", declared: str = "") -> str:
    return f"mutation($id: ID!{declared}) {{ {name}(requestId: $id{args}) {{ {R} }} }}"


def _department(w: World, p: str) -> dict[str, Any]:
    i = {
        "id": f"{w.org.ops}-new-{p}",
        "names": {"en": "New"},
        "calendar": {"timezone": "UTC", "week": WEEK},
    }
    return {"i": i}


def _person(w: World, p: str) -> dict[str, Any]:
    return {"i": {"id": f"{w.org.ana}-new-{p}", "name": "New", "departmentId": w.org.sales}}


def _item(w: World, p: str) -> dict[str, Any]:
    targets = {
        k: {"first_response_minutes": 60, "resolution_minutes": 600}
        for k in ("low", "medium", "high", "critical")
    }
    i = {
        "id": f"{w.org.laptop}-new-{p}",
        "providerDepartmentId": w.org.it,
        "names": {"en": "New item"},
        "owningTeam": "desk",
        "targets": targets,
    }
    return {"i": i}


def _submit(w: World, p: str) -> dict[str, Any]:
    return {"i": {"catalogItemId": w.org.laptop, "title": "Laptop", "form": {"model": "pro"}}}


def _campaign(w: World, p: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "i": {
            "name": f"By {p}",
            "periodStart": (now - timedelta(days=1)).isoformat(),
            "periodEnd": (now + timedelta(days=1)).isoformat(),
            "questions": [{"id": "nps", "kind": "NPS", "texts": {"en": "Recommend?"}}],
        }
    }


def _answer(w: World, p: str) -> dict[str, Any]:
    return {"i": {"providerDepartmentId": w.org.it, "scores": [{"questionId": "nps", "score": 9}]}}


MUTATIONS: dict[str, Row] = {
    "Mutation.upsertDepartment": Row(
        f"mutation($i: DepartmentInput!) {{ upsertDepartment(input: $i) {{ {R} }} }}",
        ADMIN_ONLY,
        _department,
    ),
    "Mutation.upsertPerson": Row(
        f"mutation($i: PersonInput!) {{ upsertPerson(input: $i) {{ {R} }} }}", ADMIN_ONLY, _person
    ),
    "Mutation.publishCatalogItem": Row(
        f"mutation($i: CatalogItemInput!) {{ publishCatalogItem(input: $i) {{ {R} }} }}",
        cells("Forbidden", "Forbidden", "data", "data", "Forbidden"),
        _item,
    ),
    "Mutation.submitRequest": Row(
        f"mutation($i: SubmitRequestInput!) {{ submitRequest(input: $i) {{ {R} }} }}", ALL, _submit
    ),
    "Mutation.accept": Row(action("accept"), PROVIDER, state="submitted"),
    "Mutation.assign": Row(
        action("assign", ", assigneeId: $a", ", $a: ID!"),
        PROVIDER,
        lambda w, p: {"a": w.org.bo},
        state="submitted",
    ),
    "Mutation.start": Row(action("start"), PROVIDER, state="accepted"),
    "Mutation.ask": Row(action("ask", ', question: "Which colour?"'), PROVIDER, state="accepted"),
    "Mutation.reply": Row(action("reply", ', message: "Black"'), ONLY_REQUESTER, state="waiting"),
    "Mutation.resolve": Row(action("resolve", ', note: "Done"'), PROVIDER, state="in_progress"),
    "Mutation.close": Row(action("close"), REQUESTER, state="resolved"),
    "Mutation.reopen": Row(action("reopen", ', reason: "Broken"'), REQUESTER, state="resolved"),
    "Mutation.reject": Row(action("reject", ', reason: "No"'), PROVIDER, state="submitted"),
    "Mutation.cancel": Row(action("cancel", ', reason: "No"'), REQUESTER, state="submitted"),
    "Mutation.comment": Row(action("comment", ', body: "Hello"'), PARTIES, state="submitted"),
    "Mutation.note": Row(action("note", ', body: "Budget?"'), PROVIDER, state="submitted"),
    "Mutation.subrequest": Row(
        action("subrequest", ", input: $s", ", $s: SubrequestInput!"),
        PROVIDER,
        lambda w, p: {"s": {"catalogItemId": w.org.contract, "title": "Contract"}},
        state="accepted",
    ),
    "Mutation.rate": Row(
        action("rate", ", input: {stars: 5}"),
        RATER_ONLY,
        state="resolved+invited",
    ),
    "Mutation.changeRating": Row(
        action("changeRating", ", input: {stars: 3}"),
        RATER_ONLY,
        state="resolved+rated",
    ),
    "Mutation.rateClarity": Row(
        action("rateClarity", ", stars: 4"),
        cells("Forbidden", "data", "data", "Forbidden", "Forbidden"),
        state="resolved+rated",
    ),
    "Mutation.openCampaign": Row(
        f"mutation($i: CampaignInput!) {{ openCampaign(input: $i) {{ {R} }} }}",
        ADMIN_ONLY,
        _campaign,
    ),
    "Mutation.closeCampaign": Row(
        f"mutation($campaign: ID!) {{ closeCampaign(campaignId: $campaign) {{ {R} }} }}",
        ADMIN_ONLY,
        campaign=True,
    ),
    "Mutation.answerCampaign": Row(
        f"mutation($campaign: ID!, $i: EvaluationInput!) "
        f"{{ answerCampaign(campaignId: $campaign, input: $i) {{ {R} }} }}",
        cells("data", "Forbidden", "Forbidden", "Forbidden", "Forbidden"),
        _answer,
        state="resolved+invited",  # the employee was served by IT in the campaign's period
        campaign=True,
    ),
}


def _comment(w: World, rid: str) -> None:
    act(w.platform, "comment", rid, w.org.ana, b="ping")


SUBSCRIPTIONS: dict[str, Row] = {
    "Subscription.requestUpdated": Row(
        "subscription($id: ID!) { requestUpdated(id: $id) { eventType } }",
        cells("events", "events", "events", "events", "nothing"),
        state="submitted",
        events=_comment,
    ),
    "Subscription.myRequests": Row(
        "subscription { myRequests { eventType request { id } } }",
        cells("events", "nothing", "nothing", "nothing", "nothing"),
        state="submitted",
        events=_comment,
    ),
    "Subscription.departmentQueue": Row(
        "subscription($d: ID) { departmentQueue(departmentId: $d) { eventType request { id } } }",
        cells("events", "events", "events", "events", "nothing"),
        dept,
        state="submitted",
        events=_comment,
    ),
    # No SLA warning is produced within a test's time: the cell is that the subscription is
    # accepted (the events themselves are covered by gateway/tests/test_gateway_live.py).
    "Subscription.slaWarnings": Row(
        "subscription($d: ID) { slaWarnings(departmentId: $d) { kind } }",
        cells("subscribed", "subscribed", "subscribed", "subscribed", "subscribed"),
        dept,
    ),
}

ROWS = {**QUERIES, **MUTATIONS, **SUBSCRIPTIONS}


@pytest.fixture(scope="module")
def world(platform: Platform) -> World:
    return World(platform, build_org(platform, "gmx"))


def post(
    platform: Platform, document: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = httpx.post(
        f"{platform.gateway}/graphql",
        json={"query": document, "variables": variables},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def outcome(body: dict[str, Any], name: str, row: Row, variables: dict[str, Any]) -> str:
    if body.get("errors"):
        codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
        assert len(codes) == 1, body
        return str(codes.pop())
    value = body["data"][name]
    if row.pick and value is not None:
        value = row.pick(value, variables)
    if value is None:
        return "null"
    if isinstance(value, dict) and value.get("__typename") in PROBLEMS:
        return str(value["__typename"])
    if isinstance(value, dict) and "nodes" in value:
        value = value["nodes"]
    if isinstance(value, list):
        if not value:
            return "empty"
        if all(v is None for v in value):
            return "null"
    return "data"


def variables_for(world: World, row: Row, persona: str) -> dict[str, Any]:
    values = dict(row.variables(world, persona))
    if row.state:
        values["id"] = world.request_in(row.state)
    if row.campaign:
        values["campaign"] = world.open_campaign()
    return values


def sent(row: Row, variables: dict[str, Any]) -> dict[str, Any]:
    """The variables the document declares (the fresh request's id may be only for `pick`)."""
    return {k: v for k, v in variables.items() if f"${k}" in row.document}


def test_every_gateway_operation_has_a_row(platform: Platform) -> None:
    schema = post(
        platform,
        "{ __schema { queryType { fields { name } } mutationType { fields { name } } "
        "subscriptionType { fields { name } } } }",
        {},
        bearer(ADMIN),
    )["data"]["__schema"]
    operations = {
        f"{kind}.{f['name']}"
        for kind, key in (
            ("Query", "queryType"),
            ("Mutation", "mutationType"),
            ("Subscription", "subscriptionType"),
        )
        for f in schema[key]["fields"]
    }
    assert operations == set(ROWS), (
        f"without a row: {sorted(operations - set(ROWS))}; "
        f"rows of no operation: {sorted(set(ROWS) - operations)}"
    )


def field_name(key: str) -> str:
    return key.split(".", 1)[1]


@pytest.mark.parametrize("key", sorted({**QUERIES, **MUTATIONS}))
def test_each_caller_gets_the_outcome_of_its_cell(world: World, key: str) -> None:
    row = ROWS[key]
    got = {}
    for persona in PERSONAS:
        variables = variables_for(world, row, persona)
        body = post(
            world.platform, row.document, sent(row, variables), bearer(person(world, persona))
        )
        got[persona] = outcome(body, field_name(key), row, variables)
    assert got == row.expect, key


BAD = {
    "no token": {},
    "malformed": {"Authorization": "Bearer not.a.jwt"},
    "expired": "expired",
    "unknown person": "ghost",
}


def bad_headers(kind: str) -> dict[str, str]:
    value = BAD[kind]
    if value == "expired":
        return bearer(ADMIN, hours=-1)
    if value == "ghost":
        return bearer("nobody-in-the-directory")
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("key", sorted({**QUERIES, **MUTATIONS}))
def test_no_or_a_bad_token_is_unauthenticated(world: World, key: str) -> None:
    row = ROWS[key]
    variables = variables_for(world, row, "admin")
    got = {}
    for kind in BAD:
        body = post(world.platform, row.document, sent(row, variables), bad_headers(kind))
        got[kind] = outcome(body, field_name(key), row, variables)
        assert body["data"] is None or body["data"][field_name(key)] is None, (kind, body)
    assert got == dict.fromkeys(BAD, "UNAUTHENTICATED"), key


# -- subscriptions ---------------------------------------------------------------------------


async def subscribe(world: World, document: str, variables: dict[str, Any], token: str) -> Any:
    url = world.platform.gateway.replace("http://", "ws://") + "/graphql"
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ack["type"] == "connection_ack", ack
    payload = {"query": document, "variables": variables}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    return ws


async def received(ws: Any, timeout: float) -> str:
    try:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except TimeoutError:
        return "nothing"
    if message["type"] == "next" and not message["payload"].get("errors"):
        return "events"
    return f"{message['type']}: {message.get('payload')}"


@pytest.mark.parametrize("key", sorted(SUBSCRIPTIONS))
async def test_each_subscriber_gets_the_events_of_its_cell(world: World, key: str) -> None:
    row = ROWS[key]
    variables = dict(row.variables(world, "admin"))
    rid = world.request_in(row.state) if row.state else None
    if rid:
        variables["id"] = rid
    sockets = {
        p: await subscribe(world, row.document, variables, token_for(person(world, p)))
        for p in PERSONAS
    }
    got: dict[str, str] = {}
    try:
        if row.events is None or rid is None:
            for p, ws in sockets.items():
                got[p] = "subscribed" if await received(ws, 1.0) == "nothing" else "error"
        else:
            # The feed listens from the latest offset once subscribed: make events until every
            # caller who should get one has, then give the others time to (wrongly) get one.
            waiting = {p for p, v in row.expect.items() if v == "events"}
            for _ in range(20):
                await asyncio.to_thread(row.events, world, rid)
                for p in list(waiting):
                    if await received(sockets[p], 1.0) == "events":
                        got[p] = "events"
                        waiting.discard(p)
                if not waiting:
                    break
            for p, ws in sockets.items():
                if p not in got:
                    got[p] = await received(ws, 2.0)
    finally:
        for ws in sockets.values():
            await ws.close()
    assert got == row.expect, key


@pytest.mark.parametrize("kind", sorted(set(BAD) - {"unknown person"}))
async def test_a_subscription_without_a_valid_token_is_closed(world: World, kind: str) -> None:
    url = world.platform.gateway.replace("http://", "ws://") + "/graphql"
    headers = bad_headers(kind)
    payload = {"authorization": headers["Authorization"]} if headers else {}
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403, kind


async def test_a_signed_token_of_nobody_in_the_directory_gets_no_event(world: World) -> None:
    """Its signature is good, so the socket opens; the services do not know the person, so a
    subscription that needs the caller's department is refused, and no event is ever sent."""
    ws = await subscribe(
        world,
        "subscription { departmentQueue { eventType } }",
        {},
        token_for("nobody-in-the-directory"),
    )
    try:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    finally:
        await ws.close()
    assert message["type"] == "error" or message["payload"].get("errors"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["UNAUTHENTICATED"]
