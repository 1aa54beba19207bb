"""Administration through GraphQL: departments, people and catalog items, each mutation the
saved thing or a typed problem, the service deciding who may."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra

WEEK = {"mon": "09:00-18:00", "tue": "09:00-18:00"}
DEPARTMENT = """
mutation ($input: DepartmentInput!) { upsertDepartment(input: $input) {
  __typename
  ... on Department { id name timezone }
  ... on InvalidInput { fields { field message } }
  ... on Forbidden { message }
} }
"""
PERSON = """
mutation ($input: PersonInput!) { upsertPerson(input: $input) {
  __typename ... on Person { id name roles department { id } } ... on Forbidden { message }
} }
"""
ITEM = """
mutation ($input: CatalogItemInput!) { publishCatalogItem(input: $input) {
  __typename
  ... on CatalogItem { id version name providerDepartment { id } fields { name type } }
  ... on Forbidden { message }
  ... on InvalidInput { message }
} }
"""


async def test_an_admin_adds_a_department_and_a_person(stack, unique) -> None:
    department = {
        "id": f"ops{unique}",
        "names": {"en": "Operations"},
        "calendar": {"timezone": "Asia/Shanghai", "week": WEEK},
    }
    saved = await stack.graphql(DEPARTMENT, {"input": department}, actor=stack.admin)
    assert saved["upsertDepartment"] == {
        "__typename": "Department",
        "id": f"ops{unique}",
        "name": "Operations",
        "timezone": "Asia/Shanghai",
    }
    person = {
        "id": f"olu{unique}",
        "name": "Olu",
        "departmentId": f"ops{unique}",
        "roles": ["AGENT"],
    }
    added = await stack.graphql(PERSON, {"input": person}, actor=stack.admin)
    assert added["upsertPerson"]["department"] == {"id": f"ops{unique}"}
    assert added["upsertPerson"]["roles"] == ["AGENT"]


async def test_directory_changes_are_refused_to_others_and_bad_input_named(stack, unique) -> None:
    department = {
        "id": f"x{unique}",
        "names": {"en": "X"},
        "calendar": {"timezone": "Asia/Shanghai", "week": WEEK},
    }
    refused = await stack.graphql(DEPARTMENT, {"input": department}, actor="ana")
    assert refused["upsertDepartment"]["__typename"] == "Forbidden"
    department["calendar"]["timezone"] = "Nowhere/Atlantis"
    invalid = await stack.graphql(DEPARTMENT, {"input": department}, actor=stack.admin)
    assert invalid["upsertDepartment"]["__typename"] == "InvalidInput"
    assert [f["field"] for f in invalid["upsertDepartment"]["fields"]] == ["calendar"]


async def test_a_provider_manager_publishes_a_catalog_item(stack, unique) -> None:
    item = {
        "id": f"monitor{unique}",
        "providerDepartmentId": "it",
        "names": {"en": "Monitor"},
        "owningTeam": "it-desk",
        "fields": [{"type": "text", "name": "size", "required": True}],
        "targets": {
            p: {"first_response_minutes": 60, "resolution_minutes": 480}
            for p in ("low", "medium", "high", "critical")
        },
    }
    published = await stack.graphql(ITEM, {"input": item}, actor="ivy")
    assert published["publishCatalogItem"] == {
        "__typename": "CatalogItem",
        "id": f"monitor{unique}",
        "version": 1,
        "name": "Monitor",
        "providerDepartment": {"id": "it"},
        "fields": [{"name": "size", "type": "text"}],
    }
    refused = await stack.graphql(ITEM, {"input": item}, actor="bo")
    assert refused["publishCatalogItem"]["__typename"] == "Forbidden"
