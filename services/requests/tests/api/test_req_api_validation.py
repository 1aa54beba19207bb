"""Bad input: one error per invalid field, 404 for unknown ids, 413 for oversized bodies, and
filters that could reach MongoDB as operators refused."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra

ADMIN = "root"


def fields_of(response) -> dict[str, str]:
    body = response.json()
    assert body["error"]["code"] == "invalid_input", body
    return {f["field"]: f["code"] for f in body["error"]["fields"]}


async def test_every_invalid_form_field_gets_its_own_error(api) -> None:
    response = await api.post(
        "/requests",
        "ana",
        {
            "catalog_item_id": "laptop",
            "title": "  ",
            "priority": "urgent",
            "form": {
                "model": "gold",
                "reason": "no",
                "quantity": 2.5,
                "needed_by": "next week",
                "approver": "ghost",
                "colour": "red",
            },
        },
        expect=422,
    )
    assert fields_of(response) == {
        "priority": "invalid_choice",
        "title": "required",
        "model": "invalid_choice",
        "reason": "too_short",
        "quantity": "not_integer",
        "needed_by": "type",
        "approver": "unknown_person",
        "colour": "unknown",
    }
    assert all(f["message"] for f in response.json()["error"]["fields"])


async def test_required_fields_limits_and_known_people_are_checked(api) -> None:
    response = await api.post(
        "/requests",
        "ana",
        {
            "catalog_item_id": "laptop",
            "title": "x" * 201,
            "form": {"quantity": 9, "needed_by": "2023-12-31"},
        },
        expect=422,
    )
    assert fields_of(response) == {
        "title": "too_long",
        "model": "required",
        "quantity": "too_large",
        "needed_by": "too_early",
    }
    ok = await api.submit(
        form={"model": "pro", "quantity": 2, "needed_by": "2024-07-01", "approver": "al"}
    )
    assert ok["status"] == "submitted"


async def test_wrongly_typed_bodies_are_field_errors(api) -> None:
    response = await api.post("/requests", "ana", {"catalog_item_id": {"$ne": 1}}, expect=422)
    assert "catalog_item_id" in fields_of(response)
    response = await api.post("/requests", "ana", {"catalog_item_id": "laptop", "x": 1}, expect=422)
    assert "x" in fields_of(response)


async def test_catalog_and_directory_bodies_are_validated(api, unique: str) -> None:
    missing_priority = {
        "provider_department_id": "it",
        "name": {"en": "Thing"},
        "owning_team": "t",
        "targets": {"low": {"first_response_minutes": 1, "resolution_minutes": 2}},
    }
    response = await api.put(f"/catalog/items/c{unique}", ADMIN, missing_priority, expect=422)
    assert fields_of(response) == {"targets": "missing"}
    full = {"first_response_minutes": 1, "resolution_minutes": 2}
    complete = {
        **missing_priority,
        "targets": dict.fromkeys(["low", "medium", "high", "critical"], full),
    }
    unknown_dept = {**complete, "provider_department_id": "nowhere"}
    response = await api.put(f"/catalog/items/c{unique}", ADMIN, unknown_dept, expect=422)
    assert "provider_department_id" in fields_of(response)
    bad_field = {**complete, "fields": [{"type": "colour", "name": "x"}]}
    await api.put(f"/catalog/items/c{unique}", ADMIN, bad_field, expect=422)

    bad_calendar = {"name": {"en": "X"}, "calendar": {"timezone": "Mars/Olympus", "week": {}}}
    response = await api.put(f"/departments/d{unique}", ADMIN, bad_calendar, expect=422)
    assert fields_of(response) == {"calendar": "invalid"}
    bad_hours = {"name": {"en": "X"}, "calendar": {"timezone": "UTC", "week": {"mon": "9-5"}}}
    await api.put(f"/departments/d{unique}", ADMIN, bad_hours, expect=422)
    orphan = {"name": "Zed", "department_id": "nowhere", "roles": ["agent"]}
    response = await api.put(f"/people/p{unique}", ADMIN, orphan, expect=422)
    assert fields_of(response) == {"department_id": "unknown"}
    await api.put(f"/people/p{unique}", ADMIN, {**orphan, "roles": ["boss"]}, expect=422)
    await api.put("/people/$where", ADMIN, {**orphan, "department_id": "it"}, expect=422)


async def test_a_department_cannot_become_its_own_ancestor(api, unique: str) -> None:
    await api.department(f"a{unique}")
    await api.department(f"b{unique}", parent_id=f"a{unique}")
    body = {
        "name": {"en": "A"},
        "parent_id": f"b{unique}",
        "calendar": {"timezone": "UTC", "week": {"mon": "09:00-17:00"}},
    }
    response = await api.put(f"/departments/a{unique}", ADMIN, body, expect=422)
    assert fields_of(response) == {"parent_id": "cycle"}


@pytest.mark.parametrize(
    "path",
    [
        "/requests/unknown",
        "/catalog/items/unknown",
        "/catalog/items/laptop?version=99",
        "/people/unknown",
    ],
)
async def test_unknown_ids_are_not_found(api, path: str) -> None:
    response = await api.get(path, "ana", expect=404)
    assert response.json()["error"]["code"] == "not_found"


async def test_acting_on_unknown_requests_or_items_is_not_found(api) -> None:
    await api.post("/requests/unknown/accept", "bo", expect=404)
    await api.post("/requests/unknown/comment", "bo", {"body": "x"}, expect=404)
    response = await api.post(
        "/requests", "ana", {"catalog_item_id": "nope", "title": "x", "form": {}}, expect=404
    )
    assert response.json()["error"]["code"] == "not_found"


async def test_oversized_bodies_are_refused(api) -> None:
    huge = {"catalog_item_id": "laptop", "title": "x", "description": "y" * 400_000}
    response = await api.post("/requests", "ana", huge, expect=413)
    assert response.json()["error"]["code"] == "payload_too_large"

    async def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    # Without a Content-Length the body is counted as it arrives.
    response = await api.call(
        "POST", "/requests", "ana", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "params",
    [
        {"status[$ne]": "closed"},
        {"$where": "1"},
        {"department": "$gt"},
        {"requester": '{"$ne": null}'},
        {"unknown": "x"},
    ],
)
async def test_operator_like_filters_are_refused(api, params: dict[str, str]) -> None:
    response = await api.get("/requests", "bo", params=params, expect=422)
    assert response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"status": "asleep"}, "status.0"),
        ({"sort": "title"}, "sort"),
        ({"cursor": "garbage"}, "cursor"),
        ({"created_from": "2024-06-01T00:00:00"}, "created_from"),
        ({"breached": "maybe"}, "breached"),
    ],
)
async def test_bad_list_parameters_name_the_parameter(api, params, field: str) -> None:
    response = await api.get("/requests", "bo", params=params, expect=422)
    assert field in fields_of(response)


async def test_batches_are_bounded(api) -> None:
    ids = [f"r{i}" for i in range(api.settings.max_batch_ids + 1)]
    response = await api.get("/requests/batch", "bo", params={"id": ids}, expect=422)
    assert fields_of(response) == {"id": "too_many"}
    await api.get("/requests/batch", "bo", expect=422)
