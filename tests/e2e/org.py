"""A small organisation built through the gateway's own mutations, for the GraphQL e2e tests.

Sales consumes IT's laptop service; HR provides contract reviews (a sub-request's target); Ops
holds the administrator. Ids carry a random suffix, so tests of one run never meet.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .conftest import ADMIN, Platform

WEEK = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TARGETS = {
    p: {"first_response_minutes": 600, "resolution_minutes": 6000}
    for p in ("low", "medium", "high", "critical")
}
RESULT = """__typename
  ... on InvalidInput { message fields { field message } }
  ... on NotFound { message } ... on Forbidden { message }
  ... on Conflict { message currentStatus }"""


@dataclass(frozen=True)
class Org:
    it: str
    sales: str
    hr: str
    ops: str
    ana: str  # Sales employee: the requester
    bo: str  # IT agent
    ivy: str  # IT manager
    sam: str  # Sales manager
    eve: str  # HR agent: another department
    root: str  # an administrator (Ops)
    laptop: str  # IT's catalog item, a `model` choice
    contract: str  # HR's catalog item


def ok(result: dict[str, Any], typename: str) -> dict[str, Any]:
    assert result["__typename"] == typename, result
    return result


def build_org(platform: Platform, tag: str) -> Org:
    u = f"{tag}-{secrets.token_hex(3)}"
    org = Org(
        *(f"{name}-{u}" for name in ("it", "sales", "hr", "ops")),
        *(f"{name}-{u}" for name in ("ana", "bo", "ivy", "sam", "eve", "root")),
        laptop=f"laptop-{u}",
        contract=f"contract-{u}",
    )
    upsert_dept = f"mutation($i: DepartmentInput!) {{ upsertDepartment(input: $i) {{ {RESULT} }} }}"
    for dept, en, zh in (
        (org.it, "IT", "信息技术部"),
        (org.sales, "Sales", "销售部"),
        (org.hr, "HR", "人力资源部"),
        (org.ops, "Ops", "运营部"),
    ):
        i = {
            "id": dept,
            "names": {"en": en, "zh-CN": zh},
            "calendar": {"timezone": "UTC", "week": WEEK},
        }
        ok(platform.graphql(upsert_dept, {"i": i}, actor=ADMIN)["upsertDepartment"], "Department")
    upsert_person = f"mutation($i: PersonInput!) {{ upsertPerson(input: $i) {{ {RESULT} }} }}"
    for person, dept, role in (
        (org.root, org.ops, "ADMIN"),
        (org.ana, org.sales, "EMPLOYEE"),
        (org.sam, org.sales, "MANAGER"),
        (org.bo, org.it, "AGENT"),
        (org.ivy, org.it, "MANAGER"),
        (org.eve, org.hr, "AGENT"),
    ):
        i = {
            "id": person,
            "name": person.split("-")[0].title(),
            "departmentId": dept,
            "roles": [role],
        }
        ok(platform.graphql(upsert_person, {"i": i}, actor=ADMIN)["upsertPerson"], "Person")
    publish = f"mutation($i: CatalogItemInput!) {{ publishCatalogItem(input: $i) {{ {RESULT} }} }}"
    laptop = {
        "id": org.laptop,
        "providerDepartmentId": org.it,
        "names": {"en": "New laptop", "zh-CN": "新笔记本电脑"},
        "owningTeam": "it-desk",
        "targets": TARGETS,
        "fields": [
            {"type": "choice", "name": "model", "required": True, "options": ["std", "pro"]}
        ],
    }
    contract = {
        "id": org.contract,
        "providerDepartmentId": org.hr,
        "names": {"en": "Contract review"},
        "owningTeam": "hr-desk",
        "targets": TARGETS,
    }
    for item in (laptop, contract):
        result = platform.graphql(publish, {"i": item}, actor=ADMIN)["publishCatalogItem"]
        ok(result, "CatalogItem")
    return org


def eventually(probe: Callable[[], Any], timeout: float = 30, every: float = 0.2) -> Any:
    """The probe's first truthy answer; fails with its last one after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still {found!r} after {timeout}s")
        time.sleep(every)
