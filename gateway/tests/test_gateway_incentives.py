"""The incentives domain through GraphQL, against the real incentives service (fed by the
requests service's directory events on the real Kafka): the caller's balance, allowance and
history, accounts for those allowed, leaderboards, rewards and redemptions, the policy and its
what-if, and every action a mutation returning its result or a typed problem."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.kit.testing import bearer

pytestmark = pytest.mark.infra

PROBLEMS = """
  ... on InvalidInput { message fields { field message } }
  ... on NotFound { message }
  ... on Forbidden { message }
  ... on Conflict { message }
"""
GIVE = f"""
mutation Give($input: RecognitionInput!) {{
  giveRecognition(input: $input) {{
    __typename
    ... on Recognition {{ points value allowanceLeft giver {{ name }} recipient {{ name }} }}
    ... on AllowanceExceeded {{ message }}
    ... on RecipientCapReached {{ message }}
    {PROBLEMS}
  }}
}}
"""
ME = """
{
  me {
    name balance
    account { balance available reserved earned department { id } }
    allowance { month allowance given left }
    recentPoints(first: 5) { amount kind reason }
  }
}
"""
REDEEM = f"""
mutation Redeem($id: ID!) {{
  redeemReward(rewardId: $id) {{
    __typename
    ... on Redemption {{ id state cost reward {{ name }} person {{ name }} }}
    ... on InsufficientBalance {{ message }}
    ... on OutOfStock {{ message }}
    {PROBLEMS}
  }}
}}
"""
DECIDE = f"""
mutation Fulfil($id: ID!) {{
  fulfilRedemption(id: $id) {{
    __typename
    ... on Redemption {{ state decidedByPerson {{ id }} }}
    ... on InsufficientBalance {{ message }}
    ... on OutOfStock {{ message }}
    {PROBLEMS}
  }}
}}
"""
CANCEL = DECIDE.replace("Fulfil(", "Cancel(").replace(
    "fulfilRedemption(id: $id)", 'cancelRedemption(id: $id, reason: "changed my mind")'
)
REWARD = f"""
mutation Reward($input: RewardInput!) {{
  upsertReward(input: $input) {{
    __typename
    ... on Reward {{ id name(locale: "zh-CN") cost stock active }}
    {PROBLEMS}
  }}
}}
"""
PROPOSAL = {
    "rules": [
        {
            "id": "agent-sla",
            "on": "RESOLUTION",
            "pays": "ASSIGNEE",
            "points": 20,
            "when": {"slaMet": True},
        },
        {"id": "rater", "on": "RATING_GIVEN", "pays": "RATER", "points": 2},
    ],
    "recognition": {
        "allowanceByRole": [{"role": "EMPLOYEE", "points": 120}],
        "minMessageLength": 10,
        "values": ["teamwork"],
        "perRecipientCapPerMonth": 60,
    },
    "pairCapPerMonth": 300,
}
POLICY = """
mutation Publish($input: PolicyInput!) {
  publishPolicy(input: $input) {
    __typename
    ... on PointsPolicy { version rules { id on pays points when { slaMet } }
                          recognition { allowanceByRole { role points } } }
    ... on InvalidInput { message fields { field message } }
    ... on Forbidden { message }
    ... on Conflict { message }
  }
}
"""
WHAT_IF = """
query WhatIf($input: WhatIfInput!) {
  policyWhatIf(input: $input) {
    __typename
    ... on WhatIfReport { requests awardedTotal proposedTotal people { subjectId } }
    ... on InvalidInput { message fields { field message } }
    ... on Forbidden { message }
  }
}
"""


def gift(recipient: str, points: int, value: str = "teamwork") -> dict[str, Any]:
    message = "Thank you for the quick help with the laptop!"
    return {
        "input": {"recipientId": recipient, "points": points, "message": message, "value": value}
    }


async def wait_for(check: Any, timeout: float = 20) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
    return found


async def test_recognition_reaches_the_recipient_s_balance_history_and_the_boards(stack) -> None:
    given = await stack.graphql(GIVE, gift("bo", 30), actor="ana")
    assert given["giveRecognition"] == {
        "__typename": "Recognition",
        "points": 30,
        "value": "teamwork",
        "allowanceLeft": 70,
        "giver": {"name": "Ana"},
        "recipient": {"name": "Bo"},
    }
    mine = (await stack.graphql(ME, actor="ana"))["me"]
    assert mine["allowance"]["left"] == 70
    assert mine["allowance"]["given"] == 30
    assert mine["allowance"]["month"] == datetime.now(UTC).strftime("%Y-%m")

    async def credited() -> Any:
        me = (await stack.graphql(ME, actor="bo"))["me"]
        return me if me["balance"] == 30 else None

    bo = await wait_for(credited)
    assert bo["name"] == "Bo"
    assert bo["account"] == {
        "balance": 30,
        "available": 30,
        "reserved": 0,
        "earned": 30,
        "department": {"id": "it"},
    }
    assert bo["recentPoints"][0]["amount"] == 30
    assert bo["recentPoints"][0]["kind"] == "RECOGNITION"

    boards = await stack.graphql(
        """{
          people: leaderboard { board period lines { rank points person { name } } }
          quarter: leaderboard(span: QUARTER) { period lines { subjectId points } }
          depts: leaderboard(board: DEPARTMENTS, span: ALL_TIME) {
            period lines { points department { id } person { id } }
          }
        }""",
        actor="eve",
    )
    assert boards["people"]["board"] == "PEOPLE"
    assert boards["people"]["period"] == datetime.now(UTC).strftime("%Y-%m")
    assert {"rank": 1, "points": 30, "person": {"name": "Bo"}} in boards["people"]["lines"]
    assert boards["quarter"]["period"].endswith(f"Q{(datetime.now(UTC).month - 1) // 3 + 1}")
    assert boards["depts"]["period"] == "all"
    assert {"points": 30, "department": {"id": "it"}, "person": None} in boards["depts"]["lines"]


async def test_recognition_refusals_are_typed(stack) -> None:
    async def give(actor: str, *args: Any) -> dict[str, Any]:
        return dict((await stack.graphql(GIVE, gift(*args), actor=actor))["giveRecognition"])

    self_gift = await give("eve", "eve", 5, "not_a_value")
    assert self_gift["__typename"] == "InvalidInput"
    assert {f["field"] for f in self_gift["fields"]} >= {"recipient_id"}
    assert (await give("eve", "ivy", 50))["__typename"] == "Recognition"
    assert (await give("eve", "ivy", 10))["__typename"] == "RecipientCapReached"
    assert (await give("eve", "sam", 51))["__typename"] == "AllowanceExceeded"
    assert (await give("eve", "nobody-at-all", 1))["__typename"] in ("NotFound", "InvalidInput")


async def test_accounts_are_shown_to_whom_the_service_allows(stack) -> None:
    # Sam manages sales (Ana's department); Ana may not see Bo's account.
    seen = await stack.graphql(
        """{ pointsAccount(personId: "ana") { account balance person { name } }
             ledger(personId: "ana", first: 2) { nodes { amount } pageInfo { hasNextPage } } }""",
        actor="sam",
    )
    assert seen["pointsAccount"]["person"] == {"name": "Ana"}
    assert seen["ledger"]["pageInfo"]["hasNextPage"] is False
    refused = (await stack.raw('{ pointsAccount(personId: "bo") { balance } }', actor="ana")).json()
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    dept = await stack.graphql(
        """{ departmentPoints(departmentId: "it") {
               department { account } members { account person { name } } } }""",
        actor="ivy",
    )
    assert dept["departmentPoints"]["department"]["account"] == "dept:it"
    refused = (
        await stack.raw(
            '{ departmentPoints(departmentId: "it") { members { account } } }', actor="bo"
        )
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_ledger_pages_forward_by_cursor(stack) -> None:
    for points in (3, 4, 5):
        given = await stack.graphql(GIVE, gift("eve", points, "ownership"), actor="sam")
        assert given["giveRecognition"]["__typename"] == "Recognition"
    page = """query P($after: String) { me { pointsHistory(first: 2, after: $after) {
        nodes { amount } pageInfo { hasNextPage endCursor } } } }"""

    async def three() -> bool:
        recent = (await stack.graphql("{ me { recentPoints { amount } } }", actor="eve"))["me"]
        return len(recent["recentPoints"]) == 3

    await wait_for(three)  # each gift enters the ledger through the service's own consumer
    first = (await stack.graphql(page, actor="eve"))["me"]["pointsHistory"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [n["amount"] for n in first["nodes"]] == [5, 4]
    after = first["pageInfo"]["endCursor"]
    rest = (await stack.graphql(page, {"after": after}, actor="eve"))["me"]["pointsHistory"]
    assert [n["amount"] for n in rest["nodes"]] == [3]
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": None}


async def test_rewards_redemptions_and_their_refusals(stack, unique) -> None:
    mug, sold_out = f"mug-{unique}", f"sold-out-{unique}"
    reward = {"id": mug, "names": {"en": "Mug", "zh-CN": "杯子"}, "cost": 10, "stock": 5}
    refused = await stack.graphql(REWARD, {"input": reward}, actor="bo")
    assert refused["upsertReward"]["__typename"] == "Forbidden"
    made = await stack.graphql(REWARD, {"input": reward}, actor=stack.admin)
    assert made["upsertReward"] == {
        "__typename": "Reward",
        "id": mug,
        "name": "杯子",
        "cost": 10,
        "stock": 5,
        "active": True,
    }
    gone = {**reward, "id": sold_out, "stock": 0}
    assert (await stack.graphql(REWARD, {"input": gone}, actor=stack.admin))["upsertReward"][
        "__typename"
    ] == "Reward"
    bad = await stack.graphql(REWARD, {"input": {**reward, "cost": 0}}, actor=stack.admin)
    assert bad["upsertReward"]["__typename"] == "InvalidInput"
    assert bad["upsertReward"]["fields"][0]["field"].endswith("cost")

    given = await stack.graphql(GIVE, gift("ivy", 25), actor="sam")
    assert given["giveRecognition"]["__typename"] == "Recognition"

    async def funded() -> bool:
        return bool((await stack.graphql("{ me { balance } }", actor="ivy"))["me"]["balance"] >= 25)

    await wait_for(funded)
    redeemed = (await stack.graphql(REDEEM, {"id": mug}, actor="ivy"))["redeemReward"]
    assert redeemed["__typename"] == "Redemption", redeemed
    assert redeemed["state"] == "RESERVED"
    assert redeemed["reward"] == {"name": "Mug"}
    poor = await stack.graphql(
        REWARD, {"input": {**reward, "id": f"tv-{unique}", "cost": 5000}}, actor=stack.admin
    )
    assert poor["upsertReward"]["__typename"] == "Reward"
    too_dear = (await stack.graphql(REDEEM, {"id": f"tv-{unique}"}, actor="ivy"))["redeemReward"]
    assert too_dear["__typename"] == "InsufficientBalance"
    out = (await stack.graphql(REDEEM, {"id": sold_out}, actor="ivy"))["redeemReward"]
    assert out["__typename"] == "OutOfStock"
    missing = (await stack.graphql(REDEEM, {"id": f"none-{unique}"}, actor="ivy"))["redeemReward"]
    assert missing["__typename"] == "NotFound"

    mine = await stack.graphql(
        "{ myRedemptions { id state } me { balance account { reserved } } }", actor="ivy"
    )
    assert {"id": redeemed["id"], "state": "RESERVED"} in mine["myRedemptions"]
    own = await stack.graphql("{ redemptions { person { id } } }", actor="ivy")
    assert {r["person"]["id"] for r in own["redemptions"]} == {"ivy"}
    refused = (await stack.raw('{ redemptions(personId: "bo") { id } }', actor="ivy")).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    waiting = await stack.graphql(
        "{ redemptions(state: RESERVED) { id person { name } } }", actor=stack.admin
    )
    assert {"id": redeemed["id"], "person": {"name": "Ivy"}} in waiting["redemptions"]

    rid = {"id": redeemed["id"]}
    assert (await stack.graphql(DECIDE, rid, actor="ivy"))["fulfilRedemption"][
        "__typename"
    ] == "Forbidden"
    done = (await stack.graphql(DECIDE, rid, actor=stack.admin))["fulfilRedemption"]
    assert done == {"__typename": "Redemption", "state": "FULFILLED", "decidedByPerson": None}
    late = (await stack.graphql(CANCEL, rid, actor=stack.admin))["cancelRedemption"]
    assert late["__typename"] == "Conflict"

    second = (await stack.graphql(REDEEM, {"id": mug}, actor="ivy"))["redeemReward"]
    cancelled = (await stack.graphql(CANCEL, {"id": second["id"]}, actor=stack.admin))[
        "cancelRedemption"
    ]
    assert cancelled["state"] == "CANCELLED"

    async def refunded() -> bool:
        me = await stack.graphql("{ me { account { balance reserved earned } } }", actor="ivy")
        account = me["me"]["account"]
        # One mug spent, the cancelled one refunded.
        return bool(account["reserved"] == 0 and account["balance"] == account["earned"] - 10)

    await wait_for(refunded)


async def test_the_policy_its_versions_and_what_if(stack) -> None:
    current = await stack.graphql(
        """{ pointsPolicy { version rules { id on pays points }
             recognition { values allowanceByRole { role points } } }
             pointsPolicyVersions { version } }""",
        actor="ana",
    )
    assert current["pointsPolicy"]["version"] == 0
    assert {"role": "MANAGER", "points": 200} in current["pointsPolicy"]["recognition"][
        "allowanceByRole"
    ]
    effective = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    policy = {"input": {**PROPOSAL, "effectiveFrom": effective}}
    assert (await stack.graphql(POLICY, policy, actor="ana"))["publishPolicy"][
        "__typename"
    ] == "Forbidden"
    past = {"input": {**PROPOSAL, "effectiveFrom": "2020-01-01T00:00:00+00:00"}}
    assert (await stack.graphql(POLICY, past, actor=stack.admin))["publishPolicy"][
        "__typename"
    ] == "InvalidInput"
    published = (await stack.graphql(POLICY, policy, actor=stack.admin))["publishPolicy"]
    assert published["__typename"] == "PointsPolicy", published
    assert published["version"] == 1
    assert published["rules"][0] == {
        "id": "agent-sla",
        "on": "RESOLUTION",
        "pays": "ASSIGNEE",
        "points": 20,
        "when": {"slaMet": True},
    }
    versions = await stack.graphql("{ pointsPolicyVersions { version } }", actor="bo")
    assert [v["version"] for v in versions["pointsPolicyVersions"]][:2] == [1, 0]

    now = datetime.now(UTC)
    what_if = {
        "input": {
            "policy": PROPOSAL,
            "from": (now - timedelta(days=30)).isoformat(),
            "to": now.isoformat(),
        }
    }
    assert (await stack.graphql(WHAT_IF, what_if, actor="bo"))["policyWhatIf"][
        "__typename"
    ] == "Forbidden"
    report = (await stack.graphql(WHAT_IF, what_if, actor=stack.admin))["policyWhatIf"]
    assert report["__typename"] == "WhatIfReport", report
    assert report["requests"] >= 0
    assert report["proposedTotal"] >= 0


async def test_a_request_s_points_and_the_entries_each_caller_may_see(stack) -> None:
    rid = await stack.submit("ana")
    for action, body in (("accept", None), ("start", None), ("resolve", {"note": "done"})):
        response = await stack.requests.post(
            f"/requests/{rid}/{action}", json=body, headers=bearer("bo")
        )
        assert response.status_code == 200, response.text

    async def rated() -> bool:
        answer = await stack.feedback.post(
            f"/ratings/{rid}", json={"stars": 5}, headers=bearer("ana")
        )
        return answer.status_code in (200, 201)

    await wait_for(rated)
    query = """query R($id: ID!) { request(id: $id) { incentives {
        settlement points awarded entries { account amount kind request { id } } } } }"""

    async def settled() -> Any:
        found = (await stack.graphql(query, {"id": rid}, actor="bo"))["request"]["incentives"]
        return found if found and found["settlement"] == "settled" and found["entries"] else None

    # Policy version 0: 10 to the agent, 3 to the provider department, 1 to the rater.
    mine = await wait_for(settled)
    assert (mine["points"], mine["awarded"]) == (14, 14)
    assert mine["entries"] == [
        {"account": "bo", "amount": 10, "kind": "AWARD", "request": {"id": rid}}
    ]

    async def accounts(person: str) -> set[str]:
        data = await stack.graphql(query, {"id": rid}, actor=person)
        return {e["account"] for e in data["request"]["incentives"]["entries"]}

    assert await accounts("ana") == {"ana"}  # her point for rating
    assert await accounts("ivy") == {"bo", "dept:it"}  # IT's manager
    assert await accounts("sam") == {"ana"}  # Sales' manager: his department's entry only
