"""Bulk directory import: JSON or CSV, idempotent, a report per bad row, all or nothing."""

from __future__ import annotations

import json

import pytest

from icr.contracts.topics import DIRECTORY

pytestmark = pytest.mark.infra

ADMIN = "root"


def csv_file(u: str) -> str:
    return (
        "kind,id,name,name_en,name_zh,parent_id,manager_id,timezone,week,holidays,"
        "department_id,roles,locale,active\n"
        f"department,hq{u},,Head office,总部,,,Asia/Shanghai,mon-fri=09:00-18:00,"
        "2024-10-01;2024-10-02,,,,\n"
        f"department,fin{u},,Finance,财务部,hq{u},boss{u},Asia/Shanghai,"
        '"mon-fri=09:00-12:00,13:00-18:00",,,,,\n'
        f"person,boss{u},Fay,,,,,,,,fin{u},manager;employee,zh-CN,\n"
        f"person,clerk{u},Fu,,,,,,,,fin{u},agent,,true\n"
    )


def json_rows(u: str) -> list[dict]:
    return [
        {"kind": "department", "id": f"ops{u}", "name_en": "Operations", "timezone": "UTC"},
        {
            "kind": "department",
            "id": f"lab{u}",
            "name_en": "Lab",
            "parent_id": f"ops{u}",
            "week": {"mon": "08:00-16:00", "tue": "08:00-16:00"},
            "holidays": ["2024-12-25"],
        },
        {"kind": "person", "id": f"p1{u}", "name": "Pat", "department_id": f"lab{u}"},
        {
            "kind": "person",
            "id": f"p2{u}",
            "name": "Quinn",
            "department_id": f"ops{u}",
            "roles": ["agent", "manager"],
        },
    ]


async def post_import(api, body: str | bytes, content_type: str, actor: str = ADMIN, **kw):
    return await api.call(
        "POST",
        "/directory/import",
        actor,
        content=body,
        headers={"content-type": content_type},
        **kw,
    )


async def test_csv_import_creates_the_directory_and_reports_each_row(api, unique: str) -> None:
    response = await post_import(api, csv_file(unique).encode(), "text/csv", expect=200)
    report = response.json()
    assert report["departments"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert report["people"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert [r["result"] for r in report["rows"]] == ["created"] * 4

    departments = {d["id"]: d for d in (await api.get("/departments", "ana")).json()}
    finance = departments[f"fin{unique}"]
    assert finance["name"] == {"en": "Finance", "zh-CN": "财务部"}
    assert finance["parent_id"] == f"hq{unique}"
    assert finance["manager_id"] == f"boss{unique}"
    assert finance["calendar"]["week"]["mon"] == "09:00-12:00,13:00-18:00"
    assert departments[f"hq{unique}"]["calendar"]["holidays"] == ["2024-10-01", "2024-10-02"]
    boss = (await api.get(f"/people/boss{unique}", "ana", expect=200)).json()
    assert (boss["roles"], boss["locale"]) == (["employee", "manager"], "zh-CN")


async def test_reimport_changes_nothing_and_emits_only_for_changes(
    api, unique: str, events
) -> None:
    rows = json_rows(unique)
    first = await post_import(api, json.dumps(rows), "application/json", expect=200)
    assert [r["result"] for r in first.json()["rows"]] == ["created"] * 4
    again = await post_import(api, json.dumps(rows), "application/json", expect=200)
    assert [r["result"] for r in again.json()["rows"]] == ["unchanged"] * 4
    rows[3]["roles"] = ["agent"]
    changed = await post_import(api, json.dumps(rows), "application/json", expect=200)
    assert [r["result"] for r in changed.json()["rows"]] == ["unchanged"] * 3 + ["updated"]

    keys = {r["id"] for r in rows}
    found = await events(api.settings, keys, until=lambda t: len(t) >= 5, topic=DIRECTORY)
    with pytest.raises(AssertionError):  # nothing beyond the four creations and one change
        await events(api.settings, keys, until=lambda t: len(t) > 5, timeout=1.5, topic=DIRECTORY)
    assert [e.type for e in found].count("requests.person.upserted") == 3
    quinn = [e for e in found if e.aggregate_id == f"p2{unique}"]
    assert [e.data["roles"] for e in quinn] == [["agent", "manager"], ["agent"]]


async def test_one_bad_row_rejects_the_file_with_a_report_per_row(api, unique: str) -> None:
    rows = [
        *json_rows(unique),
        {"kind": "team", "id": f"x{unique}"},
        {"kind": "person", "id": f"p3{unique}", "name": "Ray", "department_id": "nowhere"},
        {"kind": "department", "id": f"bad{unique}", "name_en": "Bad", "timezone": "Mars/Base"},
        {
            "kind": "person",
            "id": f"p1{unique}",
            "name": "Pat again",
            "department_id": f"ops{unique}",
        },
        {"kind": "department", "id": f"c1{unique}", "name_en": "C1", "parent_id": f"c2{unique}"},
        {"kind": "department", "id": f"c2{unique}", "name_en": "C2", "parent_id": f"c1{unique}"},
        {"kind": "department", "id": f"m{unique}", "name_en": "M", "manager_id": "ghost"},
        {
            "kind": "person",
            "id": f"p4{unique}",
            "name": "",
            "department_id": f"ops{unique}",
            "roles": ["boss"],
        },
    ]
    response = await post_import(api, json.dumps(rows), "application/json", expect=422)
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    report = {r["row"]: {e["field"]: e["code"] for e in r["errors"]} for r in error["rows"]}
    assert report == {
        5: {"kind": "invalid"},
        6: {"department_id": "unknown"},
        7: {"timezone": "invalid"},
        8: {"id": "duplicate"},
        9: {"parent_id": "cycle"},
        10: {"parent_id": "cycle"},
        11: {"manager_id": "unknown"},
        12: {"roles": "invalid", "name": "required"},
    }
    # Nothing was applied, not even the good rows.
    await api.get(f"/people/p1{unique}", "ana", expect=404)
    assert f"ops{unique}" not in {d["id"] for d in (await api.get("/departments", "ana")).json()}


async def test_only_admins_import(api, unique: str) -> None:
    response = await post_import(api, json.dumps(json_rows(unique)), "application/json", "ivy")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"kind": "person"}', "application/json"),
        ("kind,id,salary\nperson,x,1\n", "text/csv"),
        ("kind,id\nperson,x,extra\n", "text/csv"),
    ],
)
async def test_unreadable_files_are_refused(api, body: str, content_type: str) -> None:
    response = await post_import(api, body, content_type, expect=422)
    assert response.json()["error"]["message"]


async def test_imports_may_be_larger_than_other_bodies_but_not_unbounded(api) -> None:
    big = json.dumps([{"kind": "person", "id": f"n{i}", "name": "x" * 100} for i in range(3000)])
    assert len(big) > api.settings.max_command_bytes
    response = await post_import(api, big, "application/json", expect=422)  # read, then judged
    assert len(response.json()["error"]["rows"]) == 3000
    huge = b"[" + b" " * (api.settings.max_body_bytes + 1) + b"]"
    await post_import(api, huge, "application/json", expect=413)
