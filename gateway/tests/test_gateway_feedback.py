"""The feedback domain through GraphQL, against the real requests and feedback services: a
rating's whole life as mutations with typed problems, the closed loop's recovery request, my
ratings and invitations, a department's ratings, scores by period, the department matrix and
reciprocity, and a campaign from opening to results above the threshold."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.kit.testing import bearer

pytestmark = pytest.mark.infra

RATE = """
mutation Rate($id: ID!, $input: RatingInput!) {
  rate(requestId: $id, input: $input) {
    __typename
    ... on Rating { status stars comment dimensions { quality communication } rater { name } }
    ... on InvalidInput { message fields { field message } }
    ... on Forbidden { message }
    ... on Conflict { message }
  }
}
"""
CHANGE = """
mutation Change($id: ID!, $input: RatingInput!) {
  changeRating(requestId: $id, input: $input) {
    __typename ... on Rating { stars changedAt } ... on Conflict { message }
  }
}
"""
CLARITY = """
mutation Clarity($id: ID!, $stars: Int!) {
  rateClarity(requestId: $id, stars: $stars) {
    __typename ... on Rating { clarityStars } ... on Forbidden { message }
  }
}
"""
READ = """
query Read($id: ID!) {
  request(id: $id) {
    id
    rating {
      status stars comment clarityStars resolution
      dimensions { responsiveness quality communication }
      rater { id } providerDepartment { id } raterDepartment { id }
      request { id title }
      recoveryRequest { id priority requester { id } }
    }
  }
}
"""


def month() -> dict[str, str]:
    return {"kind": "MONTH", "key": datetime.now(UTC).strftime("%Y-%m")}


async def resolved(stack: Any, requester: str = "ana") -> str:
    """A laptop request of `requester` that Bo (IT) resolved, once its invitation exists."""
    rid: str = await stack.submit(requester)
    for action, body in (("accept", None), ("start", None), ("resolve", {"note": "done"})):
        response = await stack.requests.post(
            f"/requests/{rid}/{action}", json=body, headers=bearer("bo")
        )
        assert response.status_code == 200, response.text
    async with asyncio.timeout(30):
        while (
            await stack.feedback.get(f"/ratings/{rid}", headers=bearer(requester))
        ).status_code != 200:
            await asyncio.sleep(0.1)
    return rid


async def eventually(probe: Any, timeout: float = 30) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await probe()):
            await asyncio.sleep(0.1)
    return found


async def test_a_rating_lives_its_whole_life_through_mutations(stack) -> None:
    rid = await resolved(stack)
    invitations = await stack.graphql(
        "{ myRatingInvitations { requestId status request { id } } }", actor="ana"
    )
    assert {"requestId": rid, "status": "INVITED", "request": {"id": rid}} in invitations[
        "myRatingInvitations"
    ]

    bad = await stack.graphql(RATE, {"id": rid, "input": {"stars": 7}}, actor="ana")
    assert bad["rate"]["__typename"] == "InvalidInput"
    assert [f["field"] for f in bad["rate"]["fields"]] == ["stars"]
    other = await stack.graphql(RATE, {"id": rid, "input": {"stars": 4}}, actor="sam")
    assert other["rate"]["__typename"] == "Forbidden"

    given = {"stars": 4, "comment": "quick", "dimensions": {"quality": 5, "communication": 3}}
    rated = await stack.graphql(RATE, {"id": rid, "input": given}, actor="ana")
    assert rated["rate"] == {
        "__typename": "Rating",
        "status": "RATED",
        "stars": 4,
        "comment": "quick",
        "dimensions": {"quality": 5, "communication": 3},
        "rater": {"name": "Ana"},
    }
    again = await stack.graphql(RATE, {"id": rid, "input": {"stars": 5}}, actor="ana")
    assert again["rate"]["__typename"] == "Conflict"

    # A change replaces the whole answer: what is left out is gone.
    given = {"stars": 5, "comment": "quick", "dimensions": {"quality": 5}}
    changed = await stack.graphql(CHANGE, {"id": rid, "input": given}, actor="ana")
    assert changed["changeRating"]["__typename"] == "Rating"
    assert changed["changeRating"]["stars"] == 5
    not_provider = await stack.graphql(CLARITY, {"id": rid, "stars": 4}, actor="ana")
    assert not_provider["rateClarity"]["__typename"] == "Forbidden"
    clarity = await stack.graphql(CLARITY, {"id": rid, "stars": 4}, actor="bo")
    assert clarity["rateClarity"] == {"__typename": "Rating", "clarityStars": 4}

    read = (await stack.graphql(READ, {"id": rid}, actor="ana"))["request"]["rating"]
    assert read == {
        "status": "RATED",
        "stars": 5,
        "comment": "quick",
        "clarityStars": 4,
        "resolution": 1,
        "dimensions": {"responsiveness": None, "quality": 5, "communication": None},
        "rater": {"id": "ana"},
        "providerDepartment": {"id": "it"},
        "raterDepartment": {"id": "sales"},
        "request": {"id": rid, "title": "Laptop"},
        "recoveryRequest": None,
    }
    mine = await stack.graphql("{ myRatings { requestId stars } }", actor="ana")
    assert {"requestId": rid, "stars": 5} in mine["myRatings"]
    # The provider's manager reads the department's ratings with comments; a customer may not.
    listed = await stack.graphql(
        '{ departmentRatings(departmentId: "it") { requestId comment } }', actor="ivy"
    )
    assert {"requestId": rid, "comment": "quick"} in listed["departmentRatings"]
    refused = await stack.raw(
        '{ departmentRatings(departmentId: "it") { requestId } }', actor="ana"
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_low_rating_links_the_recovery_request(stack) -> None:
    rid = await resolved(stack)
    low = await stack.graphql(RATE, {"id": rid, "input": {"stars": 1}}, actor="ana")
    assert low["rate"]["status"] == "RATED"

    async def linked() -> Any:
        rating = (await stack.graphql(READ, {"id": rid}, actor="ana"))["request"]["rating"]
        return rating["recoveryRequest"]

    recovery = await eventually(linked)
    assert recovery["priority"] == "HIGH"
    assert recovery["requester"] == {"id": "ana"}


SCORES = """
query Scores($period: PeriodInput!) {
  departmentScores(departmentId: "it", period: $period) {
    department { invitations ratings shown average department { id } }
    pairs { consumerDepartment { id } invitations }
  }
}
"""
MATRIX = """
query Matrix($period: PeriodInput!) {
  departmentMatrix(period: $period) {
    periodKey
    departments { id }
    cells {
      provider { id } consumer { id }
      submitted resolved resolvedWithinSla slaAttainment reopenRate ratings ratingShown
      openBacklog { count oldestAgeSeconds }
    }
  }
}
"""
RECIPROCITY = """
query Reciprocity($period: PeriodInput!) {
  reciprocity(departmentId: "sales", period: $period) {
    department { id } provided consumed balance
    counterparts { department { id } provided consumed ratingAsymmetry }
  }
}
"""


async def test_scores_the_matrix_and_reciprocity_by_period(stack) -> None:
    await resolved(stack)
    period = {"period": month()}

    async def scored() -> Any:
        found = await stack.graphql(SCORES, period, actor="ivy")
        return found["departmentScores"]

    scores = await eventually(scored)
    assert scores["department"]["department"] == {"id": "it"}
    assert scores["department"]["invitations"] >= 1
    assert {
        "consumerDepartment": {"id": "sales"},
        "invitations": scores["pairs"][0]["invitations"],
    } in scores["pairs"]
    table = await stack.graphql(
        "query T($period: PeriodInput!) {"
        " scores(period: $period) { departments { department { id } } } }",
        period,
        actor=stack.admin,
    )
    assert {"department": {"id": "it"}} in table["scores"]["departments"]

    async def matrix() -> Any:
        cells = (await stack.graphql(MATRIX, period, actor="ivy"))["departmentMatrix"]["cells"]
        pair = [
            c for c in cells if c["provider"] == {"id": "it"} and c["consumer"] == {"id": "sales"}
        ]
        return pair[0] if pair and pair[0]["resolved"] >= 1 else None

    cell = await eventually(matrix)
    assert cell["submitted"] >= cell["resolved"] >= cell["resolvedWithinSla"] >= 1
    assert cell["slaAttainment"] == round(cell["resolvedWithinSla"] / cell["resolved"], 3)
    assert cell["ratings"] >= 0
    assert cell["openBacklog"]["count"] >= 0
    # An employee sees the row and column of their own department only.
    own = (await stack.graphql(MATRIX, period, actor="ana"))["departmentMatrix"]["cells"]
    assert own
    assert all("sales" in (c["provider"]["id"], c["consumer"]["id"]) for c in own)

    found = (await stack.graphql(RECIPROCITY, period, actor="ana"))["reciprocity"]
    assert found["department"] == {"id": "sales"}
    it = [c for c in found["counterparts"] if c["department"] == {"id": "it"}]
    assert it
    assert it[0]["consumed"] >= 1
    assert found["balance"] == found["provided"] - found["consumed"]
    refused = await stack.raw(
        'query { reciprocity(departmentId: "it", period: {kind: MONTH, key: "2026-01"})'
        " { balance } }",
        actor="ana",
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    invalid = await stack.raw(
        'query { departmentMatrix(period: {kind: MONTH, key: "2026-13"}) { periodKey } }',
        actor="ivy",
    )
    assert invalid.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


OPEN = """
mutation Open($input: CampaignInput!) {
  openCampaign(input: $input) {
    __typename
    ... on Campaign { id status threshold questions { id kind text(locale: "zh-CN") } }
    ... on Forbidden { message }
    ... on InvalidInput { message fields { field } }
  }
}
"""
ANSWER = """
mutation Answer($id: ID!, $input: EvaluationInput!) {
  answerCampaign(campaignId: $id, input: $input) {
    __typename
    ... on EvaluationRecorded { campaignId providerDepartmentId }
    ... on Conflict { message }
    ... on Forbidden { message }
  }
}
"""


async def test_a_campaign_from_opening_to_results_above_the_threshold(stack) -> None:
    await resolved(stack)  # Ana was served by IT: she is invited to evaluate it
    now = datetime.now(UTC)
    campaign = {
        "name": "Quarterly review",
        "periodStart": (now - timedelta(days=1)).isoformat(),
        "periodEnd": (now + timedelta(days=1)).isoformat(),
        "questions": [
            {"id": "nps", "kind": "NPS", "texts": {"en": "Recommend?", "zh-CN": "推荐吗?"}},
            {"id": "speed", "kind": "SCALE", "texts": {"en": "How fast?"}},
            {"id": "remarks", "kind": "TEXT", "texts": {"en": "Anything else?"}},
        ],
    }
    refused = await stack.graphql(OPEN, {"input": campaign}, actor="ana")
    assert refused["openCampaign"]["__typename"] == "Forbidden"
    opened = (await stack.graphql(OPEN, {"input": campaign}, actor=stack.admin))["openCampaign"]
    assert opened["__typename"] == "Campaign"
    assert opened["status"] == "OPEN"
    assert opened["threshold"] == 2
    assert opened["questions"][0] == {"id": "nps", "kind": "NPS", "text": "推荐吗?"}
    cid = opened["id"]

    invited = await stack.graphql(
        "query C($id: ID!) { campaign(id: $id) { name departmentsToEvaluate { id } } }",
        {"id": cid},
        actor="ana",
    )
    assert invited["campaign"] == {
        "name": "Quarterly review",
        "departmentsToEvaluate": [{"id": "it"}],
    }
    answer = {
        "providerDepartmentId": "it",
        "scores": [{"questionId": "nps", "score": 9}, {"questionId": "speed", "score": 4}],
        "texts": [{"questionId": "remarks", "text": "fast and kind"}],
    }
    recorded = await stack.graphql(ANSWER, {"id": cid, "input": answer}, actor="ana")
    assert recorded["answerCampaign"] == {
        "__typename": "EvaluationRecorded",
        "campaignId": cid,
        "providerDepartmentId": "it",
    }
    twice = await stack.graphql(ANSWER, {"id": cid, "input": answer}, actor="ana")
    assert twice["answerCampaign"]["__typename"] == "Conflict"
    not_served = await stack.graphql(ANSWER, {"id": cid, "input": answer}, actor="eve")
    assert not_served["answerCampaign"]["__typename"] == "Forbidden"

    closed = await stack.graphql(
        "mutation C($id: ID!) { closeCampaign(campaignId: $id) {"
        " __typename ... on Campaign { status closedAt } } }",
        {"id": cid},
        actor=stack.admin,
    )
    assert closed["closeCampaign"]["status"] == "CLOSED"
    results = await stack.graphql(
        "query R($id: ID!) { campaign(id: $id) {"
        " results { status threshold groups { respondents } comments { comments } } } }",
        {"id": cid},
        actor=stack.admin,
    )
    # One respondent is below the threshold of two: nothing of the answer is shown.
    assert results["campaign"]["results"] == {
        "status": "CLOSED",
        "threshold": 2,
        "groups": [],
        "comments": [],
    }
    listed = await stack.graphql("{ campaigns { id status } }", actor="ana")
    assert {"id": cid, "status": "CLOSED"} in listed["campaigns"]
    missing = await stack.graphql('{ campaign(id: "nope") { id } }', actor="ana")
    assert missing["campaign"] is None
