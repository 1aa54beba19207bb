"""Listing: filters, sorting and cursor pagination over a department queue of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.infra

ADMIN = "root"
T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)


@pytest.fixture
async def queue(api, unique: str) -> dict:
    """A fresh provider department with an agent, an item and eight requests an hour apart."""
    dept, agent, other, item = f"ops{unique}", f"oa{unique}", f"ob{unique}", f"desk{unique}"
    await api.department(dept)
    await api.person(agent, dept, ["agent"])
    await api.person(other, dept, ["agent"])
    await api.item(
        item,
        {
            "provider_department_id": dept,
            "name": {"en": "Desk"},
            "owning_team": "ops",
            "targets": {
                p: {"first_response_minutes": 60 * (4 - i), "resolution_minutes": 960}
                for i, p in enumerate(("low", "medium", "high", "critical"))
            },
        },
    )
    priorities = ["low", "medium", "high", "critical"] * 2
    ids = []
    for i, priority in enumerate(priorities):
        api.clock.set(T0 + timedelta(hours=i))
        submitter = "ana" if i % 2 == 0 else "eve"
        ids.append(
            (await api.submit(submitter, item, form={}, priority=priority, title=f"r{i}"))["id"]
        )
    await api.act(ids[0], "accept", agent)
    await api.act(ids[1], "assign", agent, {"assignee_id": other})
    await api.act(ids[2], "cancel", "ana", {"reason": "no longer needed"})
    return {"dept": dept, "agent": agent, "other": other, "ids": ids}


async def listed(api, actor: str, **params) -> list[str]:
    response = await api.get("/requests", actor, params=params, expect=200)
    return [r["id"] for r in response.json()["items"]]


async def test_cursor_pages_walk_the_queue_once_in_order(api, queue) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        params = {"department": queue["dept"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/requests", queue["agent"], params=params, expect=200)).json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(queue["ids"]))  # newest first by default


async def test_filters_combine(api, queue) -> None:
    ids, dept, agent = queue["ids"], queue["dept"], queue["agent"]
    assert await listed(api, agent, department=dept, status="cancelled") == [ids[2]]
    assert await listed(api, agent, department=dept, status=["accepted", "cancelled"]) == [
        ids[2],
        ids[0],
    ]
    assert await listed(api, agent, department=dept, priority="critical") == [ids[7], ids[3]]
    assert await listed(api, agent, department=dept, assignee=queue["other"]) == [ids[1]]
    assert await listed(api, agent, department=dept, requester="eve") == [
        ids[7],
        ids[5],
        ids[3],
        ids[1],
    ]
    assert await listed(api, agent, department=dept, consumer_department="sales") == [
        ids[6],
        ids[4],
        ids[2],
        ids[0],
    ]
    window = {
        "created_from": (T0 + timedelta(hours=2)).isoformat(),
        "created_to": (T0 + timedelta(hours=4)).isoformat(),
    }
    assert await listed(api, agent, department=dept, **window) == [ids[3], ids[2]]


async def test_breached_filter_follows_the_scheduler(api, queue, wait_until) -> None:
    # First-response targets are 4, 3, 2 and 1 hours by priority, each request submitted an
    # hour after the previous: by T0+7h the first four are past due, the last four are not.
    ids, dept, agent = queue["ids"], queue["dept"], queue["agent"]

    async def breached_are_the_first_four() -> bool:
        found = await listed(api, agent, department=dept, breached="true")
        return found == [ids[3], ids[2], ids[1], ids[0]]

    await wait_until(breached_are_the_first_four)
    assert await listed(api, agent, department=dept, breached="false") == [
        ids[7],
        ids[6],
        ids[5],
        ids[4],
    ]


async def test_sorting_by_priority_and_due_time(api, queue) -> None:
    ids, dept, agent = queue["ids"], queue["dept"], queue["agent"]
    by_priority = (
        await api.get("/requests", agent, params={"department": dept, "sort": "-priority"})
    ).json()["items"]
    ranks = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    assert [ranks[r["priority"]] for r in by_priority] == [3, 3, 2, 2, 1, 1, 0, 0]
    assert {r["id"] for r in by_priority[:2]} == {ids[7], ids[3]}
    by_due = (
        await api.get("/requests", agent, params={"department": dept, "sort": "due"}, expect=200)
    ).json()["items"]
    running = [r for r in by_due if r["status"] not in ("cancelled",)]
    dues = [
        min(
            c["due_at"]
            for c in (r["sla"]["first_response"], r["sla"]["resolution"])
            if not c["stopped"]
        )
        for r in running
    ]
    assert dues == sorted(dues)
    assert by_due[-1]["id"] == ids[2]  # nothing left to be due: last
    cursor_page = (
        await api.get(
            "/requests", agent, params={"department": dept, "sort": "due", "limit": 4}, expect=200
        )
    ).json()
    rest = await listed(api, agent, department=dept, sort="due", cursor=cursor_page["next_cursor"])
    assert [r["id"] for r in cursor_page["items"]] + rest == [r["id"] for r in by_due]


async def test_due_ranges_select_what_falls_due_in_them(api, queue) -> None:
    ids, dept, agent = queue["ids"], queue["dept"], queue["agent"]

    async def due_between(start: timedelta, end: timedelta) -> list[str]:
        bounds = {"due_from": (T0 + start).isoformat(), "due_to": (T0 + end).isoformat()}
        return await listed(api, agent, department=dept, **bounds)

    hour, minute = timedelta(hours=1), timedelta(minutes=1)
    # Requests 4 to 7 all owe their first response at T0+8h; 1 and 3 owed theirs at T0+4h
    # and still do; 0 was accepted (its resolution is due tomorrow), 2 was cancelled.
    assert await due_between(8 * hour, 8 * hour + minute) == [ids[7], ids[6], ids[5], ids[4]]
    assert await due_between(4 * hour, 4 * hour + minute) == [ids[3], ids[1]]
    assert await due_between(7 * hour, 8 * hour) == []


async def test_a_cursor_only_fits_the_sort_it_came_from(api, queue) -> None:
    page = (
        await api.get("/requests", queue["agent"], params={"department": queue["dept"], "limit": 2})
    ).json()
    response = await api.get(
        "/requests",
        queue["agent"],
        params={"department": queue["dept"], "sort": "priority", "cursor": page["next_cursor"]},
        expect=422,
    )
    assert response.json()["error"]["fields"][0]["field"] == "cursor"


async def test_filters_never_widen_what_an_actor_sees(api, queue) -> None:
    # Ana sees only her own requests in that queue, whatever she filters on.
    mine = await listed(api, "ana", department=queue["dept"])
    assert mine == [queue["ids"][i] for i in (6, 4, 2, 0)]
    assert await listed(api, "sam", department=queue["dept"]) == []
    assert await listed(api, "ana", requester="eve") == []


async def test_people_come_in_one_batch_with_unknown_ids_absent(api) -> None:
    query = [("id", "bo"), ("id", "cy"), ("id", "nobody"), ("id", "bo")]
    people = (await api.get("/people", "ana", params=query, expect=200)).json()
    assert [p["id"] for p in people] == ["bo", "cy"]
    assert people[0]["roles"] == ["agent"]


async def test_a_people_batch_over_the_limit_is_refused(api) -> None:
    limit = api.settings.max_batch_ids
    query = [("id", f"p{i}") for i in range(limit + 1)]
    response = await api.get("/people", "ana", params=query, expect=422)
    assert response.json()["error"]["fields"][0]["field"] == "id"
