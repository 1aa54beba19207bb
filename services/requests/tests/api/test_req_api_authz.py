"""Who may see and who may change what: a request you may not see is 404, one you may see
but not change is 403; directory and catalog changes need the right role."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra

ADMIN = "root"

# actor -> (GET, accept, cancel, public comment, internal note) on a request Ana (Sales)
# submitted to IT.
MATRIX = {
    "ana": (200, 403, 200, 200, 403),  # requester
    "sam": (404, 404, 404, 404, 404),  # requester's colleague
    "al": (200, 403, 403, 200, 403),  # requester's manager (consumer side)
    "bo": (200, 200, 403, 200, 200),  # provider agent
    "ivy": (200, 200, 403, 200, 200),  # provider manager
    ADMIN: (200, 200, 200, 200, 200),
    "eve": (404, 404, 404, 404, 404),  # agent of an unrelated department
}


@pytest.mark.parametrize("actor", list(MATRIX))
async def test_request_access_follows_the_matrix(api, actor: str) -> None:
    see, accept, cancel, comment, note = MATRIX[actor]
    rid = (await api.submit("ana"))["id"]
    assert (await api.get(f"/requests/{rid}", actor)).status_code == see
    assert (await api.post(f"/requests/{rid}/comment", actor, {"body": "hi"})).status_code == (
        comment
    )
    assert (await api.post(f"/requests/{rid}/note", actor, {"body": "psst"})).status_code == note
    assert (await api.post(f"/requests/{rid}/accept", actor)).status_code == accept
    other = (await api.submit("ana"))["id"]
    assert (await api.post(f"/requests/{other}/cancel", actor, {"reason": "x"})).status_code == (
        cancel
    )


@pytest.mark.parametrize(
    ("actor", "visible"),
    [("ana", True), ("sam", False), ("al", True), ("bo", True), ("eve", False), (ADMIN, True)],
)
async def test_lists_and_batches_show_only_what_a_direct_read_would(
    api, actor: str, visible: bool
) -> None:
    rid = (await api.submit("ana"))["id"]
    batch = await api.get("/requests/batch", actor, params={"id": [rid, "unknown-id"]}, expect=200)
    assert [r["id"] for r in batch.json()] == ([rid] if visible else [])
    listed = await api.get("/requests", actor, params={"limit": 200}, expect=200)
    assert (rid in {r["id"] for r in listed.json()["items"]}) is visible


async def test_only_the_requester_may_reply_and_close(api) -> None:
    rid = (await api.submit("ana"))["id"]
    await api.act(rid, "accept", "bo")
    await api.act(rid, "ask", "bo", {"question": "Which colour?"})
    await api.act(rid, "reply", "bo", {"message": "black"}, expect=403)
    await api.act(rid, "reply", ADMIN, {"message": "black"}, expect=403)
    await api.act(rid, "reply", "sam", {"message": "black"}, expect=404)
    await api.act(rid, "reply", "ana", {"message": "black"})
    await api.act(rid, "resolve", "bo", {"note": "done"})
    await api.act(rid, "close", "bo", expect=403)
    await api.act(rid, "close", "ana")


async def test_internal_notes_are_shown_to_the_provider_side_only(api) -> None:
    rid = (await api.submit("ana"))["id"]
    await api.act(rid, "note", "bo", {"body": "check the budget first"})
    await api.act(rid, "comment", "bo", {"body": "on it"})
    for actor, bodies in (
        ("bo", ["check the budget first", "on it"]),
        ("ivy", ["check the budget first", "on it"]),
        (ADMIN, ["check the budget first", "on it"]),
        ("ana", ["on it"]),
        ("al", ["on it"]),
    ):
        detail = (await api.get(f"/requests/{rid}", actor, expect=200)).json()
        assert [c["body"] for c in detail["comments"]] == bodies, actor
        # The history names the note but never carries its text.
        assert "check the budget first" not in str(detail["history"])


async def test_the_assignee_keeps_access_and_actions_list_what_the_actor_may_do(api) -> None:
    rid = (await api.submit("ana"))["id"]
    detail = await api.act(rid, "assign", "ivy", {"assignee_id": "cy"})
    assert detail["assignee_id"] == "cy"
    cy_view = (await api.get(f"/requests/{rid}", "cy", expect=200)).json()
    assert "accept" in cy_view["allowed_actions"]
    ana_view = (await api.get(f"/requests/{rid}", "ana", expect=200)).json()
    assert ana_view["allowed_actions"] == ["cancel", "comment"]


async def test_missing_or_unknown_actor_is_unauthenticated(api) -> None:
    for actor in (None, "nobody"):
        response = await api.get("/requests", actor)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


async def test_only_admins_change_the_directory(api, unique: str) -> None:
    body = {"name": {"en": "X"}, "calendar": {"timezone": "UTC", "week": {"mon": "09:00-17:00"}}}
    for actor in ("ivy", "bo", "ana"):
        response = await api.put(f"/departments/d{unique}", actor, body, expect=403)
        assert response.json()["error"]["code"] == "forbidden"
    person = {"name": "Zed", "department_id": "it", "roles": ["admin"]}
    await api.put(f"/people/z{unique}", "ivy", person, expect=403)
    await api.put(f"/departments/d{unique}", ADMIN, body, expect=201)
    assert (await api.get("/departments", "ana", expect=200)).json()
    assert (await api.get("/people/bo", "ana", expect=200)).json()["roles"] == ["agent"]


async def test_managers_publish_only_their_own_departments_catalog(api, unique: str) -> None:
    from copy import deepcopy

    body = deepcopy((await api.get("/catalog/items/laptop", "ana", expect=200)).json())
    for key in ("id", "version", "published_at"):
        body.pop(key)
    await api.put(f"/catalog/items/l{unique}", "ivy", body, expect=201)  # IT's manager
    await api.put(f"/catalog/items/m{unique}", "bo", body, expect=403)  # IT's agent
    await api.put(f"/catalog/items/n{unique}", "al", body, expect=403)  # Sales' manager
    listed = await api.get("/catalog/items", "ana", params={"department": "it"}, expect=200)
    assert f"l{unique}" in {i["id"] for i in listed.json()}


async def test_an_identity_header_alone_is_unauthenticated(api) -> None:
    response = await api.http.put(
        "/people/ana",
        json={"name": "Ana", "department_id": "sales", "roles": ["admin"]},
        headers={"X-Actor-Id": ADMIN},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="icr"'
    assert (await api.get("/people/ana", "ana", expect=200)).json()["roles"] == ["employee"]


async def test_roles_a_token_claims_are_ignored_unless_the_issuer_is_trusted(api) -> None:
    from icr.kit.testing import bearer

    body = {"name": "Ana", "department_id": "sales", "roles": ["admin"]}
    response = await api.http.put("/people/ana", json=body, headers=bearer("ana", roles=["admin"]))
    assert response.status_code == 403
    assert (await api.get("/people/ana", "ana", expect=200)).json()["roles"] == ["employee"]


async def test_a_known_person_gets_a_challenge_once_deactivated(api, unique: str) -> None:
    await api.person(f"gone{unique}", "sales", ["employee"])
    await api.get("/requests", f"gone{unique}", expect=200)
    body = {"name": "Gone", "department_id": "sales", "roles": ["employee"], "active": False}
    await api.put(f"/people/gone{unique}", ADMIN, body, expect=200)
    response = await api.get("/requests", f"gone{unique}", expect=401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
