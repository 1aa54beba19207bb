"""The domain's flows (shared/DOMAIN.md) through GraphQL alone, on the four apps as processes
over the real Kafka and store: an employee submits from the catalog, the provider's agent
accepts, starts and asks, the requester replies, the agent resolves, the requester rates, and
the provider's score and the department matrix show it; a low rating opens the recovery
request; a subscription over a real websocket sees the events the requests service produces.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets

from icr.gateway import ide
from icr.kit.testing import token_for

from .conftest import Platform
from .org import RESULT, Org, build_org, eventually, ok

pytestmark = pytest.mark.e2e

REQUEST = f"""__typename ... on ServiceRequest {{ id status allowedActions
  sla {{ firstResponse {{ met paused }} resolution {{ paused breached }} }} }}
  {RESULT}"""
ACT = {
    "accept": f"mutation($id: ID!) {{ accept(requestId: $id) {{ {REQUEST} }} }}",
    "start": f"mutation($id: ID!) {{ start(requestId: $id) {{ {REQUEST} }} }}",
    "ask": f"mutation($id: ID!) {{ ask(requestId: $id, question: $q) {{ {REQUEST} }} }}",
    "reply": f"mutation($id: ID!) {{ reply(requestId: $id, message: $m) {{ {REQUEST} }} }}",
    "resolve": f"mutation($id: ID!) {{ resolve(requestId: $id, note: $n) {{ {REQUEST} }} }}",
    "comment": f"mutation($id: ID!) {{ comment(requestId: $id, body: $b) {{ {REQUEST} }} }}",
}
for name, arg in (("ask", "$q"), ("reply", "$m"), ("resolve", "$n"), ("comment", "$b")):
    ACT[name] = ACT[name].replace("($id: ID!)", f"($id: ID!, {arg}: String!)")
SUBMIT = f"mutation($i: SubmitRequestInput!) {{ submitRequest(input: $i) {{ {REQUEST} }} }}"
RATE = """mutation($id: ID!, $i: RatingInput!) { rate(requestId: $id, input: $i) {
  __typename ... on Rating { status stars recoveryRequest { id providerDepartment { id } } }
  ... on Conflict { message } ... on Forbidden { message } ... on NotFound { message }
  ... on InvalidInput { message } } }"""


def month() -> dict[str, str]:
    return {"kind": "MONTH", "key": datetime.now(UTC).strftime("%Y-%m")}


@pytest.fixture(scope="module")
def org(platform: Platform) -> Org:
    return build_org(platform, "flow")


def act(platform: Platform, action: str, rid: str, actor: str, **args: str) -> dict[str, Any]:
    data = platform.graphql(ACT[action], {"id": rid, **args}, actor=actor)
    return ok(data[action], "ServiceRequest")


def submit(platform: Platform, org: Org, title: str = "New laptop") -> dict[str, Any]:
    # The employee finds the service in IT's catalog, then submits its form.
    catalog = platform.graphql(
        'query($d: ID) { catalog(departmentId: $d) { id name(locale: "zh-CN") fields { name } } }',
        {"d": org.it},
        actor=org.ana,
    )["catalog"]
    item = next(i for i in catalog if i["id"] == org.laptop)
    assert item["name"] == "新笔记本电脑"
    i = {"catalogItemId": item["id"], "title": title, "form": {"model": "pro"}}
    return ok(platform.graphql(SUBMIT, {"i": i}, actor=org.ana)["submitRequest"], "ServiceRequest")


def resolved_request(platform: Platform, org: Org) -> str:
    rid = submit(platform, org)["id"]
    act(platform, "accept", rid, org.bo)
    act(platform, "start", rid, org.bo)
    act(platform, "resolve", rid, org.bo, n="Delivered")
    return str(rid)


def invited(platform: Platform, org: Org, rid: str) -> bool:
    query = "{ myRatingInvitations { requestId status request { id } } }"
    found = platform.graphql(query, actor=org.ana)["myRatingInvitations"]
    return any(r["requestId"] == rid and r["request"]["id"] == rid for r in found)


def test_a_request_from_catalog_to_rating_shows_in_scores_and_matrix(
    platform: Platform, org: Org
) -> None:
    submitted = submit(platform, org)
    rid = submitted["id"]
    assert submitted["status"] == "SUBMITTED"
    assert "cancel" in submitted["allowedActions"]

    # IT's queue shows it to the agent with the buttons to press.
    queue = platform.graphql(
        """query($f: RequestFilter) {
             requests(filter: $f, first: 10) { nodes { id allowedActions } } }""",
        {"f": {"providerDepartmentIds": [org.it], "statuses": ["SUBMITTED"]}},
        actor=org.bo,
    )["requests"]["nodes"]
    assert [n["id"] for n in queue] == [rid]
    assert "accept" in queue[0]["allowedActions"]

    accepted = act(platform, "accept", rid, org.bo)
    assert accepted["sla"]["firstResponse"]["met"] is True  # the first-response clock stopped
    act(platform, "start", rid, org.bo)
    asked = act(platform, "ask", rid, org.bo, q="Which keyboard layout?")
    assert asked["status"] == "WAITING_ON_REQUESTER"
    assert asked["sla"]["resolution"]["paused"] is True  # waiting on the requester
    replied = act(platform, "reply", rid, org.ana, m="German")
    assert replied["sla"]["resolution"]["paused"] is False
    resolved = act(platform, "resolve", rid, org.bo, n="Delivered to your desk")
    assert resolved["status"] == "RESOLVED"
    assert resolved["sla"]["resolution"]["breached"] is False

    eventually(lambda: invited(platform, org, rid))
    rated = platform.graphql(RATE, {"id": rid, "i": {"stars": 5, "comment": "fast"}}, actor=org.ana)
    assert ok(rated["rate"], "Rating")["stars"] == 5
    assert rated["rate"]["recoveryRequest"] is None

    detail = platform.graphql(
        """query($id: ID!) { request(id: $id) { status resolutionNote
             requester { id } assignee { id } requesterDepartment { id } providerDepartment { id }
             history { action actor { id } } comments { body author { id } }
             rating { stars rater { id } } } }""",
        {"id": rid},
        actor=org.ana,
    )["request"]
    assert [h["action"] for h in detail["history"]] == [
        "submit",
        "accept",
        "assign",  # accepting assigns the request to the agent who accepted it
        "start",
        "ask",
        "reply",
        "resolve",
    ]
    assert detail["history"][1]["actor"]["id"] == org.bo
    assert detail["rating"] == {"stars": 5, "rater": {"id": org.ana}}
    assert (detail["requesterDepartment"]["id"], detail["providerDepartment"]["id"]) == (
        org.sales,
        org.it,
    )

    def scored() -> Any:
        scores = platform.graphql(
            """query($d: ID!, $p: PeriodInput!) { departmentScores(departmentId: $d, period: $p) {
                 department { ratings invitations distinctRaters }
                 pairs { consumerDepartment { id } ratings } } }""",
            {"d": org.it, "p": month()},
            actor=org.ivy,
        )["departmentScores"]
        return scores if scores and scores["department"]["ratings"] == 1 else None

    scores = eventually(scored)
    assert scores["department"]["invitations"] == 1
    assert [(p["consumerDepartment"]["id"], p["ratings"]) for p in scores["pairs"]] == [
        (org.sales, 1)
    ]

    def cell() -> Any:
        matrix = platform.graphql(
            """query($p: PeriodInput!) { departmentMatrix(period: $p) { cells {
                 provider { id } consumer { id } submitted resolved resolvedWithinSla ratings
                 openBacklog { count } } } }""",
            {"p": month()},
            actor=org.ivy,
        )["departmentMatrix"]["cells"]
        mine = [c for c in cells_of(matrix, org.it, org.sales) if c["ratings"] == 1]
        return mine[0] if mine else None

    found = eventually(cell)
    assert (found["submitted"], found["resolved"], found["resolvedWithinSla"]) == (1, 1, 1)
    assert found["openBacklog"]["count"] == 0


def cells_of(cells: list[dict[str, Any]], provider: str, consumer: str) -> list[dict[str, Any]]:
    return [
        c
        for c in cells
        if c["provider"] and c["consumer"]
        if (c["provider"]["id"], c["consumer"]["id"]) == (provider, consumer)
    ]


def test_a_one_star_rating_opens_a_recovery_request_to_the_provider(
    platform: Platform, org: Org
) -> None:
    rid = resolved_request(platform, org)
    eventually(lambda: invited(platform, org, rid))
    rated = platform.graphql(
        RATE, {"id": rid, "i": {"stars": 1, "comment": "broken"}}, actor=org.ana
    )
    assert ok(rated["rate"], "Rating")["stars"] == 1

    def recovery() -> Any:
        found = platform.graphql(
            """query($id: ID!) { rating(requestId: $id) {
                 recoveryRequest { id status providerDepartment { id } } } }""",
            {"id": rid},
            actor=org.ivy,
        )["rating"]
        return found and found["recoveryRequest"]

    opened = eventually(recovery)
    assert opened["providerDepartment"]["id"] == org.it
    assert opened["status"] == "SUBMITTED"


async def next_message(ws: Any, timeout: float) -> dict[str, Any] | None:
    try:
        return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except TimeoutError:
        return None


async def test_a_subscription_over_a_websocket_sees_the_services_events(
    platform: Platform, org: Org
) -> None:
    rid = submit(platform, org, "Live laptop")["id"]
    url = platform.gateway.replace("http://", "ws://") + "/graphql"
    query = (
        f'subscription {{ requestUpdated(id: "{rid}") {{ eventType request {{ id status }} }} }}'
    )
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        auth = {"authorization": f"Bearer {token_for(org.ana)}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
        assert (await next_message(ws, 10) or {}).get("type") == "connection_ack"
        payload = {"query": query}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        # The gateway's feed starts at the latest offset with its first subscriber: comment
        # until one event comes through, so the feed is surely listening.
        got = None
        for attempt in range(20):
            await asyncio.to_thread(act, platform, "comment", rid, org.ana, b=f"ping {attempt}")
            got = await next_message(ws, 1.5)
            if got:
                break
        assert got, "no event in 20 tries"
        assert got["type"] == "next", got
        assert got["payload"]["data"]["requestUpdated"]["eventType"] == "requests.request.commented"
        # Now the agent's action, made on the requests service, arrives as it is now.
        await asyncio.to_thread(act, platform, "accept", rid, org.bo)
        update = None
        while update is None or update["eventType"] == "requests.request.commented":
            message = await next_message(ws, 15)
            assert message, "the accepted event did not arrive"
            assert message["type"] == "next", message
            update = message["payload"]["data"]["requestUpdated"]
        assert update == {
            "eventType": "requests.request.accepted",
            "request": {"id": rid, "status": "ACCEPTED"},
        }
        await ws.send(json.dumps({"id": "1", "type": "complete"}))


def test_graphiql_is_served_by_the_running_gateway_without_a_cdn(platform: Platform) -> None:
    """The platform as `make up` runs it (development): the page and every file it loads come
    from the gateway (the files `make install` fetched)."""
    page = httpx.get(f"{platform.gateway}/graphql", headers={"accept": "text/html"}, timeout=10)
    assert page.status_code == 200, page.text[:200]
    loaded = re.findall(r'\b(?:src|href)="(/graphql/assets/[^"]+)"', page.text)
    assert len(loaded) == len(ide.assets())
    assert "unpkg.com" not in page.text
    for path in loaded:
        assert httpx.get(f"{platform.gateway}{path}", timeout=10).status_code == 200, path
