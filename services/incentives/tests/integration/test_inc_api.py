"""The HTTP API on the real store and broker: bearer tokens, who sees what, strict input, typed
errors, and the admin's policy, what-if and rewards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from icr.kit.testing import bearer

pytestmark = pytest.mark.infra

WHY = "Bo fixed the VPN in ten minutes, thank you!"
POLICY = {
    "rules": [
        {
            "id": "agent",
            "on": "resolution",
            "pays": "assignee",
            "points": 20,
            "when": {"sla_met": True},
        },
        {"id": "rater", "on": "rating_given", "pays": "rater", "points": 2},
    ],
    "recognition": {
        "allowance_by_role": {"employee": 50, "manager": 80},
        "min_message_length": 10,
        "values": ["teamwork", "ownership"],
        "per_recipient_cap_per_month": 30,
    },
    "pair_cap_per_month": 1000,
}


async def test_every_endpoint_needs_a_bearer_token(service) -> None:  # type: ignore[no-untyped-def]
    for path in ("/accounts/me", "/allowances/me", "/leaderboards/people", "/rewards"):
        response = await service.http.get(path)
        assert response.status_code == 401, path
        assert "Bearer" in response.headers.get("www-authenticate", "")


async def test_people_see_their_own_managers_their_department_admins_everyone(service) -> None:  # type: ignore[no-untyped-def]
    http = service.http
    assert (await http.get("/accounts/ana", headers=bearer("ana"))).status_code == 200
    assert (await http.get("/accounts/ana", headers=bearer("bo"))).status_code == 403
    assert (await http.get("/accounts/bo", headers=bearer("ivy"))).status_code == 200
    assert (await http.get("/accounts/ana", headers=bearer("ivy"))).status_code == 403
    assert (await http.get("/accounts/ana", headers=bearer("root"))).status_code == 200
    assert (await http.get("/accounts/ana/entries", headers=bearer("bo"))).status_code == 403
    assert (await http.get("/departments/it/accounts", headers=bearer("ivy"))).status_code == 200
    assert (await http.get("/departments/it/accounts", headers=bearer("bo"))).status_code == 403
    assert (await http.get("/departments/sales/accounts", headers=bearer("sam"))).status_code == 200


async def test_recognition_through_the_api_credits_the_recipient(service, until, invariant) -> None:  # type: ignore[no-untyped-def]
    http = service.http
    body = {"recipient_id": "bo", "points": 25, "message": WHY, "value": "teamwork"}
    response = await http.post("/recognitions", json=body, headers=bearer("ana"))
    assert response.status_code == 201, response.text
    assert response.json()["allowance_left"] == 75
    allowance = (await http.get("/allowances/me", headers=bearer("ana"))).json()
    assert (allowance["allowance"], allowance["left"]) == (100, 75)

    async def credited() -> bool:
        return await service.balance("bo") == 25

    await until(credited)  # through the relay, Kafka and our own consumer
    entries = (await http.get("/accounts/bo/entries", headers=bearer("bo"))).json()["entries"]
    assert [(e["kind"], e["amount"]) for e in entries] == [("recognition", 25)]
    board = (await http.get("/leaderboards/people?period=all", headers=bearer("ana"))).json()
    assert board["lines"] == [{"rank": 1, "subject_id": "bo", "points": 25}]
    await invariant(service.settings)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"value": "speed"}, 422, "invalid_input"),
        ({"message": "thanks"}, 422, "invalid_input"),
        ({"recipient_id": "ana"}, 422, "invalid_input"),
        ({"points": 101}, 409, "allowance_exceeded"),
        ({"points": 51}, 409, "cap_reached"),
        ({"extra": 1}, 422, "invalid_input"),
        ({"recipient_id": "nobody"}, 422, "invalid_input"),
    ],
)
async def test_bad_recognition_is_a_typed_error_and_no_entry(  # type: ignore[no-untyped-def]
    service, change, status, code
) -> None:
    body = {"recipient_id": "bo", "points": 10, "message": WHY, "value": "teamwork", **change}
    response = await service.http.post("/recognitions", json=body, headers=bearer("ana"))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (await service.deps.allowances.get(f"ana:{datetime.now(UTC):%Y-%m}")) is None


async def test_unknown_query_parameters_are_refused(service) -> None:  # type: ignore[no-untyped-def]
    response = await service.http.get(
        "/leaderboards/people?period=all&sort=x", headers=bearer("ana")
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "sort"
    bad = await service.http.get("/leaderboards/people?period=2026-13", headers=bearer("ana"))
    assert bad.status_code == 422


async def test_only_admins_publish_policy_never_retroactively(service) -> None:  # type: ignore[no-untyped-def]
    http = service.http
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    body = {**POLICY, "effective_from": soon}
    assert (await http.post("/policies", json=body, headers=bearer("ivy"))).status_code == 403
    past = {**POLICY, "effective_from": "2020-01-01T00:00:00+00:00"}
    refused = await http.post("/policies", json=past, headers=bearer("root"))
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["code"] == "retroactive"
    published = await http.post("/policies", json=body, headers=bearer("root"))
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 1
    versions = (await http.get("/policies", headers=bearer("ana"))).json()
    assert [v["version"] for v in versions] == [1, 0]
    current = (await http.get("/policies/current", headers=bearer("ana"))).json()
    assert current["version"] == 0  # version 1 starts in five minutes
    # The hot path reads the versions in effect at a resolution and at its rating at once.
    now = datetime.now(UTC)
    both = await service.deps.policies.in_effect_many([now, now + timedelta(minutes=6)])
    assert [p.version for p in both] == [0, 1]
    later = (now + timedelta(minutes=6), now + timedelta(minutes=7))
    assert [p.version for p in await service.deps.policies.in_effect_many(later)] == [1, 1]


async def test_what_if_reports_without_writing(service, flow, until) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC) - timedelta(minutes=1)
    f = flow()
    await service.publish(f.submitted(), f.resolved(), f.rated(5))

    async def paid() -> bool:
        return await service.balance("bo") == 10

    await until(paid)
    count = await service.runtime.mongo.collection("ledger").count_documents({})
    body = {
        "policy": POLICY,
        "from": start.isoformat(),
        "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }
    assert (
        await service.http.post("/policies/what-if", json=body, headers=bearer("bo"))
    ).status_code == 403
    report = await service.http.post("/policies/what-if", json=body, headers=bearer("root"))
    assert report.status_code == 200, report.text
    people = {line["id"]: line for line in report.json()["people"]}
    assert (people["bo"]["awarded"], people["bo"]["proposed"]) == (10, 20)
    assert (people["ana"]["awarded"], people["ana"]["proposed"]) == (1, 2)
    assert await service.runtime.mongo.collection("ledger").count_documents({}) == count


async def test_rewards_redeem_fulfil_and_cancel_through_the_api(service, flow, until) -> None:  # type: ignore[no-untyped-def]
    http = service.http
    mug = {"name": {"en": "Mug", "zh-CN": "杯子"}, "cost": 10, "stock": 1}
    assert (await http.put("/rewards/mug", json=mug, headers=bearer("bo"))).status_code == 403
    assert (await http.put("/rewards/mug", json=mug, headers=bearer("root"))).status_code == 200
    broke = await http.post("/redemptions", json={"reward_id": "mug"}, headers=bearer("bo"))
    assert broke.status_code == 409
    assert broke.json()["error"]["code"] == "insufficient_points"

    f = flow()
    await service.publish(f.submitted(), f.resolved(), f.rated(5))

    async def paid() -> bool:
        return await service.balance("bo") == 10

    await until(paid)
    made = await http.post("/redemptions", json={"reward_id": "mug"}, headers=bearer("bo"))
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    me = (await http.get("/accounts/me", headers=bearer("bo"))).json()
    assert (me["balance"], me["available"]) == (0, 0)
    assert (await http.post(f"/redemptions/{rid}/fulfil", headers=bearer("bo"))).status_code == 403
    cancelled = await http.post(
        f"/redemptions/{rid}/cancel", json={"reason": "out of mugs"}, headers=bearer("root")
    )
    assert cancelled.json()["state"] == "cancelled"
    assert (
        await http.post(f"/redemptions/{rid}/cancel", json={}, headers=bearer("root"))
    ).status_code == 409
    me = (await http.get("/accounts/me", headers=bearer("bo"))).json()
    assert me["balance"] == 10
    mine = (await http.get("/redemptions", headers=bearer("bo"))).json()
    assert [r["state"] for r in mine] == ["cancelled", "rejected"]


async def test_tracked_requests_feed_the_gateway_with_points(service, flow, until) -> None:  # type: ignore[no-untyped-def]
    f, g = flow(), flow()
    await service.publish(f.submitted(), f.resolved(), f.rated(5), g.submitted())

    async def settled() -> bool:
        rows = (
            await service.http.get(
                f"/tracked-requests?request_id={f.request_id}&request_id={g.request_id}",
                headers=bearer("ana"),
            )
        ).json()
        return len(rows) == 2 and any(r["settlement"] == "settled" for r in rows)

    await until(settled)
    rows = (
        await service.http.get(
            f"/tracked-requests?request_id={f.request_id}&request_id={g.request_id}",
            headers=bearer("ana"),
        )
    ).json()
    by_id = {r["request_id"]: r for r in rows}
    assert (by_id[f.request_id]["points"], by_id[f.request_id]["status"]) == (14, "resolved")
    assert (by_id[g.request_id]["points"], by_id[g.request_id]["status"]) == (0, "submitted")

    async def entries(person: str) -> set[tuple[str, int]]:
        found = await service.http.get(
            f"/tracked-requests?request_id={f.request_id}", headers=bearer(person)
        )
        return {(e["account"], e["amount"]) for e in found.json()[0]["entries"]}

    # The entries behind the points as each account's history shows them: the requester her
    # own point for rating, the provider's manager the agent's award and the department's
    # share, an admin all three; the net points above stay visible to anyone.
    assert await entries("ana") == {("ana", 1)}
    assert await entries("ivy") == {("bo", 10), ("dept:it", 3)}
    assert await entries("root") == {("ana", 1), ("bo", 10), ("dept:it", 3)}
    assert await entries("cy") == set()


async def test_the_ledger_audit_finds_a_balance_that_drifted_from_the_ledger(  # type: ignore[no-untyped-def]
    service, flow, until
) -> None:
    f = flow()
    await service.publish(f.submitted(), f.resolved(), f.rated(5))

    async def paid() -> bool:
        return await service.balance("bo") == 10

    await until(paid)
    assert (await service.http.get("/ledger/audit", headers=bearer("bo"))).status_code == 403
    clean = (await service.http.get("/ledger/audit", headers=bearer("root"))).json()
    assert (clean["ledger_total"], clean["uncounted"], clean["drift"]) == (14, 0, [])
    # A fault: the balance is changed behind the ledger's back.
    await service.runtime.mongo.collection("accounts").update_one(
        {"_id": "bo"}, {"$inc": {"balance": 5}}
    )
    drifted = (await service.http.get("/ledger/audit", headers=bearer("root"))).json()
    assert drifted["drift"] == [{"account": "bo", "ledger": 10, "balance": 15}]
