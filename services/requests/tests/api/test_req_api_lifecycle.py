"""The request lifecycle through the HTTP API, with the SLA clocks on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.infra

ADMIN = "root"
T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
MINUTE = timedelta(minutes=1)


def clock_of(detail: dict, name: str) -> dict:
    return detail["sla"][name]


async def test_waiting_on_the_requester_pauses_the_resolution_clock(api, events) -> None:
    api.clock.set(T0)
    rid = (await api.submit())["id"]
    api.clock.set(T0 + 10 * MINUTE)
    accepted = await api.act(rid, "accept", "bo")
    assert clock_of(accepted, "first_response")["met"] is True
    await api.act(rid, "start", "bo")
    api.clock.set(T0 + 20 * MINUTE)
    waiting = await api.act(rid, "ask", "bo", {"question": "Which keyboard layout?"})
    assert waiting["status"] == "waiting_on_requester"

    api.clock.set(T0 + 200 * MINUTE)  # three hours pass while Ana is away
    paused = (await api.get(f"/requests/{rid}", "ana", expect=200)).json()
    resolution = clock_of(paused, "resolution")
    assert resolution["paused"] is True
    assert resolution["remaining_seconds"] == 960 * 60 - 20 * 60
    assert resolution["due_at"] is None  # unknown until the clock runs again

    resumed = await api.act(rid, "reply", "ana", {"message": "US layout"})
    assert resumed["status"] == "in_progress"
    assert clock_of(resumed, "resolution")["paused"] is False
    api.clock.set(T0 + 260 * MINUTE)
    resolved = await api.act(rid, "resolve", "bo", {"note": "Delivered to your desk"})
    assert resolved["status"] == "resolved"
    assert resolved["resolution_note"] == "Delivered to your desk"
    assert clock_of(resolved, "resolution")["met"] is True
    assert [c["body"] for c in resolved["comments"]] == ["Which keyboard layout?", "US layout"]
    assert [h["action"] for h in resolved["history"]] == [
        "submit",
        "accept",
        "assign",
        "start",
        "ask",
        "reply",
        "resolve",
    ]

    found = await events(
        api.settings, rid, until=lambda types: "requests.request.resolved" in types
    )
    types = [e.type for e in found]
    for expected in ("submitted", "accepted", "assigned", "waiting", "resumed", "resolved"):
        assert types.count(f"requests.request.{expected}") == 1, types
    resolved_event = found[types.index("requests.request.resolved")].data
    # Business seconds the clock ran: 20 minutes before the question, 60 after the reply.
    assert resolved_event["resolution_seconds"] == 80 * 60
    assert resolved_event["first_response_seconds"] == 10 * 60
    assert resolved_event["resolution_met"] is True

    closed = await api.act(rid, "close", "ana")
    assert closed["status"] == "closed"


async def test_warning_and_breach_fire_on_time_and_once(api, events, wait_until) -> None:
    api.clock.set(T0)
    rid = (await api.submit())["id"]

    async def history_has(action: str) -> bool:
        detail = (await api.get(f"/requests/{rid}", "bo", expect=200)).json()
        return any(h["action"] == action for h in detail["history"])

    api.clock.set(T0 + 44 * MINUTE)  # the warning is due at 45 minutes (a quarter left)
    found = await api.get(f"/requests/{rid}", "bo", expect=200)
    assert not found.json()["breached"]
    api.clock.set(T0 + 46 * MINUTE)
    await wait_until(lambda: history_has("sla_warning"))
    api.clock.set(T0 + 61 * MINUTE)
    await wait_until(lambda: history_has("sla_breached"))

    detail = (await api.get(f"/requests/{rid}", "bo", expect=200)).json()
    assert detail["breached"] is True
    assert clock_of(detail, "first_response")["breached"] is True
    breached = await api.get("/requests", "bo", params={"breached": "true", "limit": 200})
    assert rid in {r["id"] for r in breached.json()["items"]}

    accepted = await api.act(rid, "accept", "bo")
    assert clock_of(accepted, "first_response")["met"] is False
    found_events = await events(api.settings, rid, until=lambda t: "requests.request.accepted" in t)
    types = [e.type for e in found_events]
    assert types.count("requests.sla.warning") == 1
    assert types.count("requests.sla.breached") == 1
    warning = found_events[types.index("requests.sla.warning")].data
    assert warning["clock"] == "first_response"
    assert warning["remaining_seconds"] == 14 * 60
    assert datetime.fromisoformat(warning["due_at"]) == T0 + 60 * MINUTE


async def test_unconfirmed_resolution_closes_automatically(api, events, wait_until) -> None:
    api.clock.set(T0)
    rid = (await api.submit())["id"]
    await api.act(rid, "accept", "bo")
    await api.act(rid, "resolve", "bo", {"note": "done"})
    api.clock.set(T0 + timedelta(days=1))
    reopened = await api.act(rid, "reopen", "ana", {"reason": "the screen flickers"})
    assert reopened["status"] == "in_progress"
    assert reopened["reopen_count"] == 1
    await api.act(rid, "resolve", "bo", {"note": "replaced the screen"})
    api.clock.set(T0 + timedelta(days=6, minutes=1))

    async def closed() -> bool:
        detail = (await api.get(f"/requests/{rid}", "ana", expect=200)).json()
        return bool(detail["status"] == "closed")

    await wait_until(closed)
    detail = (await api.get(f"/requests/{rid}", "ana", expect=200)).json()
    assert detail["history"][-1]["actor_id"] == "system"
    conflict = await api.post(f"/requests/{rid}/reopen", "ana", {"reason": "again"}, expect=409)
    assert conflict.json()["error"]["current_status"] == "closed"
    found = await events(api.settings, rid, until=lambda t: "requests.request.closed" in t)
    closed_event = next(e for e in found if e.type == "requests.request.closed")
    assert closed_event.data["automatic"] is True


async def test_illegal_transitions_are_conflicts_naming_the_status(api) -> None:
    api.clock.set(T0)
    rid = (await api.submit())["id"]
    response = await api.post(f"/requests/{rid}/start", "bo", expect=409)
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["current_status"] == "submitted"
    await api.act(rid, "reject", "bo", {"reason": "Laptops come from procurement"})
    for action, body in (("accept", None), ("comment", {"body": "hello?"})):
        response = await api.post(f"/requests/{rid}/{action}", "bo", body, expect=409)
        assert response.json()["error"]["current_status"] == "rejected"
    detail = (await api.get(f"/requests/{rid}", "ana", expect=200)).json()
    assert detail["reason"] == "Laptops come from procurement"
    await api.post(f"/requests/{rid}/reject", "bo", {"reason": " "}, expect=409)


async def test_requester_cancels_and_rejection_needs_a_reason(api) -> None:
    api.clock.set(T0)
    rid = (await api.submit())["id"]
    await api.post(f"/requests/{rid}/reject", "bo", {"reason": "   "}, expect=422)
    cancelled = await api.act(rid, "cancel", "ana", {"reason": "bought one myself"})
    assert cancelled["status"] == "cancelled"
    assert cancelled["allowed_actions"] == []


async def test_ola_override_applies_to_its_consumer_from_its_date(api, unique: str) -> None:
    api.clock.set(T0)
    body = {
        "provider_department_id": "it",
        "name": {"en": "VPN access"},
        "owning_team": "it-net",
        "targets": {
            p: {"first_response_minutes": 60, "resolution_minutes": 960}
            for p in ("low", "medium", "high", "critical")
        },
        "ola": [
            {
                "consumer_department_id": "sales",
                "effective_from": "2024-06-01",
                "targets": {"medium": {"first_response_minutes": 30, "resolution_minutes": 240}},
            },
            {
                "consumer_department_id": "hr",
                "effective_from": "2024-07-01",
                "targets": {"medium": {"first_response_minutes": 15, "resolution_minutes": 120}},
            },
        ],
    }
    await api.item(f"vpn{unique}", body)

    async def first_target(actor: str, **extra) -> int:
        submitted = await api.submit(actor, f"vpn{unique}", form={}, **extra)
        return int(submitted["sla"]["first_response"]["target_seconds"])

    assert await first_target("ana") == 30 * 60  # Sales' OLA is in force
    assert await first_target("ana", priority="high") == 60 * 60  # the OLA leaves high alone
    assert await first_target("eve") == 60 * 60  # HR's OLA starts in July
    api.clock.set(datetime(2024, 7, 2, 1, 0, tzinfo=UTC))
    assert await first_target("eve") == 15 * 60


async def test_a_request_keeps_the_catalog_version_it_was_submitted_under(api, unique: str) -> None:
    api.clock.set(T0)
    body = {
        "provider_department_id": "it",
        "name": {"en": "Monitor", "zh-CN": "显示器"},
        "owning_team": "it-desk",
        "targets": {
            p: {"first_response_minutes": 60, "resolution_minutes": 960}
            for p in ("low", "medium", "high", "critical")
        },
    }
    first = await api.put(f"/catalog/items/mon{unique}", ADMIN, body, expect=201)
    assert first.json()["version"] == 1
    old = await api.submit("ana", f"mon{unique}", form={})
    body["targets"] = {
        p: {"first_response_minutes": 30, "resolution_minutes": 480}
        for p in ("low", "medium", "high", "critical")
    }
    second = await api.put(f"/catalog/items/mon{unique}", ADMIN, body, expect=200)
    assert second.json()["version"] == 2
    again = await api.put(f"/catalog/items/mon{unique}", ADMIN, body, expect=200)
    assert again.json()["version"] == 2  # nothing changed, no new version

    new = await api.submit("ana", f"mon{unique}", form={})
    assert (old["catalog_item_version"], new["catalog_item_version"]) == (1, 2)
    reread = (await api.get(f"/requests/{old['id']}", "ana", expect=200)).json()
    assert reread["sla"]["first_response"]["target_seconds"] == 3600
    assert new["sla"]["first_response"]["target_seconds"] == 1800
    v1 = await api.get(f"/catalog/items/mon{unique}", "ana", params={"version": 1}, expect=200)
    assert v1.json()["targets"]["medium"]["first_response_minutes"] == 60


async def test_open_subrequests_block_the_parent_until_they_are_done(api) -> None:
    api.clock.set(T0)
    parent = (await api.submit("ana", title="Onboard a distributor"))["id"]
    child_body = {"catalog_item_id": "contract", "title": "Review the distributor contract"}
    # Only the parent's provider side raises sub-requests, and only while working on it.
    await api.post(f"/requests/{parent}/subrequest", "bo", child_body, expect=409)
    await api.act(parent, "accept", "bo")
    await api.post(f"/requests/{parent}/subrequest", "ana", child_body, expect=403)
    await api.post(f"/requests/{parent}/subrequest", "eve", child_body, expect=404)
    child = (await api.post(f"/requests/{parent}/subrequest", "bo", child_body, expect=201)).json()
    assert child["parent_id"] == parent
    assert child["provider_department_id"] == "legal"
    assert child["requester_department_id"] == "it"
    # IT's other agents follow the cross-department work their department raised.
    await api.get(f"/requests/{child['id']}", "cy", expect=200)

    detail = (await api.get(f"/requests/{parent}", "ana", expect=200)).json()
    assert [(c["id"], c["status"]) for c in detail["children"]] == [(child["id"], "submitted")]
    blocked = await api.post(f"/requests/{parent}/resolve", "bo", {"note": "done"}, expect=409)
    assert child["id"] in blocked.json()["error"]["message"]

    await api.act(child["id"], "accept", "lee")
    await api.act(child["id"], "resolve", "lee", {"note": "Approved with changes"})
    detail = (await api.get(f"/requests/{parent}", "bo", expect=200)).json()
    assert [c["status"] for c in detail["children"]] == ["resolved"]
    assert detail["history"][-1]["action"] == "child_status"
    resolved = await api.act(parent, "resolve", "bo", {"note": "Distributor onboarded"})
    assert resolved["status"] == "resolved"


async def test_an_item_may_let_the_parent_resolve_with_open_children(api, unique: str) -> None:
    api.clock.set(T0)
    body = {
        "provider_department_id": "it",
        "name": {"en": "Office move"},
        "owning_team": "it-desk",
        "allow_resolve_with_open_children": True,
        "targets": {
            p: {"first_response_minutes": 60, "resolution_minutes": 960}
            for p in ("low", "medium", "high", "critical")
        },
    }
    await api.item(f"move{unique}", body)
    parent = (await api.submit("ana", f"move{unique}", form={}))["id"]
    await api.act(parent, "accept", "bo")
    await api.post(
        "/requests",
        "bo",
        {"catalog_item_id": "contract", "title": "Lease review", "parent_id": parent},
        expect=201,
    )
    resolved = await api.act(parent, "resolve", "bo", {"note": "moved"})
    assert [c["status"] for c in resolved["children"]] == ["submitted"]


async def test_assignment_goes_to_agents_of_the_provider_only(api) -> None:
    api.clock.set(T0)
    rid = (await api.submit())["id"]
    for assignee, code in (("ana", "not_an_agent"), ("lee", "not_an_agent"), ("ghost", "unknown")):
        response = await api.post(
            f"/requests/{rid}/assign", "ivy", {"assignee_id": assignee}, expect=422
        )
        assert response.json()["error"]["fields"][0]["code"] == code
    first = await api.act(rid, "assign", "ivy", {"assignee_id": "bo"})
    second = await api.act(rid, "assign", "ivy", {"assignee_id": "cy"})
    assert (first["assignee_id"], second["assignee_id"]) == ("bo", "cy")
    started = await api.act(rid, "start", "cy", expect=409)  # still submitted
    assert started["error"]["current_status"] == "submitted"
