"""The requests domain through GraphQL, against the real requests service: no N+1, batches
chunked to the service's limit, every action a mutation returning the request or a typed
problem, and the request's detail (history, comments, SLA, sub-requests)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from icr.kit.testing import bearer
from icr.requests.domain.lifecycle import Action

pytestmark = pytest.mark.infra

PAGE = """
query Page($first: Int!, $requester: ID!) {
  requests(first: $first, filter: {requesterIds: [$requester]}) {
    nodes {
      id title status priority allowedActions
      sla { resolution { dueAt remainingSeconds breached } }
      requester { name roles department { name(locale: "zh-CN") manager { name } } }
      assignee { name }
      providerDepartment { name manager { name department { name } } }
      requesterDepartment { name }
      catalogItem { name providerDepartment { name } }
      parent { id }
      rating { status stars rater { name department { name } } }
      incentives { status settlement points awarded revoked entries { amount kind } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_a_page_of_50_requests_with_people_costs_a_constant_few_calls(stack) -> None:
    requester = "sam"  # a requester of its own in this module: the page is exactly theirs
    ids = [await stack.submit(requester) for _ in range(50)]
    # The newest three resolved, so the page has ratings (invitations) to show, with raters.
    for rid in ids[-3:]:
        for action, body in (("accept", None), ("start", None), ("resolve", {"note": "done"})):
            response = await stack.requests.post(
                f"/requests/{rid}/{action}", json=body, headers=bearer("bo")
            )
            assert response.status_code == 200, response.text
    async with asyncio.timeout(30):
        query = "&".join(f"request_id={i}" for i in ids[-3:])
        while (
            len((await stack.feedback.get(f"/ratings?{query}", headers=bearer("sam"))).json()) < 3
        ):
            await asyncio.sleep(0.1)
        # ... and the incentives service to know every request of the page, the resolved ones
        # as resolved.
        tracked = "&".join(f"request_id={i}" for i in ids)
        while True:
            rows = (
                await stack.incentives.get(f"/tracked-requests?{tracked}", headers=bearer("sam"))
            ).json()
            if len(rows) == 50 and sum(r["status"] == "resolved" for r in rows) == 3:
                break
            await asyncio.sleep(0.1)

    async def calls_for(first: int, *, warm: bool = False) -> Counter[str]:
        if not warm:
            stack.cache.clear()  # the directory and catalog come from the services
        stack.door.calls.clear()
        stack.feedback_door.calls.clear()
        stack.incentives_door.calls.clear()
        data = await stack.graphql(PAGE, {"first": first, "requester": requester}, actor=requester)
        nodes = data["requests"]["nodes"]
        assert len(nodes) == first
        assert nodes[0]["requester"]["department"]["manager"]["name"] == "Sam"
        assert nodes[0]["providerDepartment"]["manager"]["department"]["name"] == "IT"
        assert nodes[0]["catalogItem"]["name"] == "New laptop"
        assert nodes[0]["rating"] == {
            "status": "INVITED",
            "stars": None,
            "rater": {"name": "Sam", "department": {"name": "SALES"}},
        }
        # Every request of the page is tracked by the incentives service (it learns them from
        # the requests topic): wait for the newest, then each has its points, none null.
        assert all(n["incentives"] is not None for n in nodes), nodes
        assert nodes[0]["incentives"]["settlement"] in ("awaiting_rating", "settled")
        assert nodes[-1]["incentives"] == {
            "status": "submitted",
            "settlement": "open",
            "points": 0,
            "awarded": 0,
            "revoked": 0,
            "entries": [],
        }
        return Counter(
            stack.door.paths() + stack.feedback_door.paths() + stack.incentives_door.paths()
        )

    page_of_50 = await calls_for(50)
    # One listing, one whole-list read each for departments and the catalog, and the people in
    # two rounds (requesters and assignees, then the managers the departments name).
    assert page_of_50["GET /requests"] == 1
    assert page_of_50["GET /departments"] == 1
    assert page_of_50["GET /catalog/items"] == 1
    assert page_of_50["GET /people"] <= 2
    assert page_of_50["GET /ratings"] == 1  # every rating of the page in one batch
    assert page_of_50["GET /tracked-requests"] == 1  # every request's points in one batch
    assert sum(page_of_50.values()) <= 7, page_of_50
    assert await calls_for(5) == page_of_50  # the count does not grow with the page
    # With the read cache warm (people, departments and the catalog from the previous query,
    # kept while the cache's event feed says nothing changed), only the page and its ratings
    # and points are asked for.
    async with asyncio.timeout(10):
        while not stack.cache.serving():
            await asyncio.sleep(0.05)
    await calls_for(50, warm=True)
    warm = await calls_for(50, warm=True)
    assert warm == Counter({"GET /requests": 1, "GET /ratings": 1, "GET /tracked-requests": 1}), (
        warm
    )


async def test_a_thousand_ids_are_fetched_in_chunks_of_the_service_limit(stack) -> None:
    real = [await stack.submit("ana") for _ in range(3)]
    ids = real + [f"missing-{n}" for n in range(997)]
    stack.door.calls.clear()
    data = await stack.graphql(
        "query ($ids: [ID!]!) { requestsByIds(ids: $ids) { id } }", {"ids": ids}, actor="ana"
    )
    found = data["requestsByIds"]
    assert [r["id"] for r in found[:3]] == real
    assert found[3:] == [None] * 997
    batches = [n for method, path, n in stack.door.calls if path == "/requests/batch"]
    assert sorted(batches) == [200] * 5  # 1,000 ids, the service takes 200 per call


async def test_more_than_a_thousand_ids_are_refused_with_a_code(stack) -> None:
    ids = [f"r{n}" for n in range(1001)]
    stack.door.calls.clear()
    response = await stack.raw(
        "query ($ids: [ID!]!) { requestsByIds(ids: $ids) { id } }", {"ids": ids}, actor="ana"
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert stack.door.calls == []


ACT = """
mutation Act($id: ID!) {
  %s {
    __typename
    ... on ServiceRequest { id status allowedActions }
    ... on Conflict { message currentStatus }
    ... on NotFound { message }
    ... on Forbidden { message }
    ... on InvalidInput { message fields { field message } }
  }
}
"""


async def act(stack, actor: str, call: str, request_id: str) -> dict:
    data = await stack.graphql(ACT % call, {"id": request_id}, actor=actor)
    return dict(next(iter(data.values())))


async def test_a_request_lives_its_whole_life_through_mutations(stack) -> None:
    submitted = await stack.graphql(
        """mutation { submitRequest(input: {catalogItemId: "laptop", title: "Laptop for Ana",
             form: {model: "pro"}}) { __typename ... on ServiceRequest { id status } } }""",
        actor="ana",
    )
    rid = submitted["submitRequest"]["id"]
    steps = [
        ("bo", "accept(requestId: $id)", "accepted"),
        ("bo", "start(requestId: $id)", "in_progress"),
        ("bo", 'comment(requestId: $id, body: "On it")', "in_progress"),
        ("bo", 'note(requestId: $id, body: "Check stock first")', "in_progress"),
        ("bo", 'ask(requestId: $id, question: "US or German keyboard?")', "waiting_on_requester"),
        ("ana", 'reply(requestId: $id, message: "German")', "in_progress"),
        ("bo", 'resolve(requestId: $id, note: "On your desk")', "resolved"),
        ("ana", "close(requestId: $id)", "closed"),
    ]
    for actor, call, status in steps:
        result = await act(stack, actor, call, rid)
        assert result["__typename"] == "ServiceRequest", (call, result)
        assert result["status"] == status.upper()

    again = await act(stack, "ana", "close(requestId: $id)", rid)
    assert again["__typename"] == "Conflict"
    assert again["currentStatus"] == "closed"

    detail = await stack.graphql(
        """query ($id: ID!) { request(id: $id) {
             status resolutionNote closedAt description form
             sla { firstResponse { met } resolution { met paused } }
             history { action actor { name } }
             comments { body public author { name } }
           } }""",
        {"id": rid},
        actor="ana",
    )
    request = detail["request"]
    assert request["resolutionNote"] == "On your desk"
    assert request["form"] == {"model": "pro"}
    assert request["sla"]["resolution"]["met"] is True
    actions = [h["action"] for h in request["history"]]
    assert actions[:2] == ["submit", "accept"]
    assert {"start", "comment", "ask", "reply", "resolve", "close"} <= set(actions)
    # The requester never sees the internal note.
    assert [c["body"] for c in request["comments"]] == [
        "On it",
        "US or German keyboard?",
        "German",
    ]


async def test_allowed_actions_name_mutations_of_the_schema(stack) -> None:
    from icr.gateway.schema import schema

    mutations = {f.name for f in schema.get_type_by_name("Mutation").fields}  # type: ignore[union-attr]
    assert {str(a) for a in Action} <= mutations
    rid = await stack.submit("ana")
    data = await stack.graphql(
        "query ($id: ID!) { request(id: $id) { allowedActions } }", {"id": rid}, actor="bo"
    )
    assert set(data["request"]["allowedActions"]) <= mutations
    assert "accept" in data["request"]["allowedActions"]


async def test_typed_problems_for_invalid_forbidden_and_unknown(stack) -> None:
    invalid = await stack.graphql(
        """mutation { submitRequest(input: {catalogItemId: "laptop", title: "",
             form: {model: "huge", quantity: 9}}) {
             __typename ... on InvalidInput { fields { field message } } } }""",
        actor="ana",
    )
    fields = {f["field"] for f in invalid["submitRequest"]["fields"]}
    assert {"title", "model", "quantity"} <= fields

    rid = await stack.submit("ana")
    # The requester may see it but not accept it; an outsider does not see it at all.
    assert (await act(stack, "ana", "accept(requestId: $id)", rid))["__typename"] == "Forbidden"
    assert (await act(stack, "eve", "accept(requestId: $id)", rid))["__typename"] == "NotFound"
    missing = await act(stack, "bo", "accept(requestId: $id)", "no-such-request")
    assert missing["__typename"] == "NotFound"


async def test_sub_requests_show_under_their_parent(stack) -> None:
    rid = await stack.submit("ana")
    for call in ("accept(requestId: $id)", "start(requestId: $id)"):
        await act(stack, "bo", call, rid)
    child = await stack.graphql(
        """mutation ($id: ID!) { subrequest(requestId: $id,
             input: {catalogItemId: "contract", title: "Check the lease"}) {
             __typename
             ... on ServiceRequest { id parent { id } providerDepartment { name } } } }""",
        {"id": rid},
        actor="bo",
    )
    created = child["subrequest"]
    assert created["parent"]["id"] == rid
    assert created["providerDepartment"]["name"] == "HR"
    data = await stack.graphql(
        "query ($id: ID!) { request(id: $id) { subrequests { id title } } }",
        {"id": rid},
        actor="bo",
    )
    assert data["request"]["subrequests"] == [{"id": created["id"], "title": "Check the lease"}]


async def test_me_departments_people_and_the_catalog(stack) -> None:
    data = await stack.graphql(
        """{ me { id name roles department { id name } }
             departments { id name manager { name } }
             people(ids: ["bo", "nobody", "ivy"]) { name }
             catalog { id name(locale: "zh-CN") fields { name type required options } } }""",
        actor="bo",
    )
    assert data["me"] == {
        "id": "bo",
        "name": "Bo",
        "roles": ["AGENT"],
        "department": {"id": "it", "name": "IT"},
    }
    assert {"id": "it", "name": "IT", "manager": {"name": "Ivy"}} in data["departments"]
    assert data["people"] == [{"name": "Bo"}, None, {"name": "Ivy"}]
    laptop = next(i for i in data["catalog"] if i["id"] == "laptop")
    assert laptop["name"] == "新笔记本电脑"
    assert laptop["fields"][0] == {
        "name": "model",
        "type": "choice",
        "required": True,
        "options": ["standard", "pro"],
    }


async def test_pages_follow_the_service_cursor(stack) -> None:
    for _ in range(3):
        await stack.submit("ana")
    seen: list[str] = []
    after = None
    while True:
        data = await stack.graphql(
            """query ($after: String) { requests(first: 2, after: $after,
                 filter: {requesterIds: ["ana"]}, sort: CREATED, descending: false) {
                 edges { node { id } } pageInfo { hasNextPage endCursor } } }""",
            {"after": after},
            actor="ana",
        )
        page = data["requests"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) >= 3


async def test_a_page_larger_than_100_is_refused(stack) -> None:
    response = await stack.raw("{ requests(first: 101) { nodes { id } } }", actor="ana")
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
