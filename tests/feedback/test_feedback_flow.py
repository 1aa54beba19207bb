"""The whole loop on the real broker and store: a resolution invites, a rating moves the scores,
a low rating opens a recovery request in the requests service, and its resolution links back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from icr.contracts import topics
from icr.kit.periods import PeriodKind, period_key
from icr.kit.testing import read_keyed

pytestmark = pytest.mark.infra

PEOPLE = {
    "ana": ("sales", ["employee"]),
    "cy": ("sales", ["employee"]),
    "bo": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
    "sam": ("sales", ["manager"]),
}


async def test_low_rating_opens_one_recovery_request_and_its_resolution_links_back(
    platform,
) -> None:
    async with platform(anonymity_threshold=2) as p:
        await p.seed(PEOPLE, {"it": "ivy", "sales": "sam"})
        rid = await p.served("ana", "it", "bo")
        invited = await p.fb_json(f"/ratings/{rid}", "ana")
        assert (invited["status"], invited["rater_id"]) == ("invited", "ana")

        rated = await p.fb("POST", f"/ratings/{rid}", "ana", json={"stars": 1, "comment": "slow"})
        assert rated.status_code == 201, rated.text
        recovery_id = rated.json()["recovery_request_id"]
        assert recovery_id

        async def opened() -> dict | None:
            response = await p.requests.get(f"/requests/{recovery_id}", headers=_bearer("ivy"))
            return response.json() if response.status_code == 200 else None

        recovery = await p.until(opened)
        assert recovery["provider_department_id"] == "it"
        assert recovery["assignee_id"] == "ivy"
        assert recovery["requester_id"] == "ana"

        await p.req("POST", f"/requests/{recovery_id}/accept", "ivy")
        await p.req("POST", f"/requests/{recovery_id}/resolve", "ivy", {"note": "we talked"})

        async def linked() -> bool:
            found = await p.fb_json(f"/ratings/{rid}", "ivy")
            return found["recovery_resolved_at"] is not None

        await p.until(linked)
        # The recovery request is the loop closing, not a service to rate.
        response = await p.fb("GET", f"/ratings/{recovery_id}", "ana")
        assert response.status_code == 404


async def test_ratings_update_the_department_and_pair_scores(platform) -> None:
    async with platform(anonymity_threshold=2, score_prior_weight=2) as p:
        await p.seed(PEOPLE, {"it": "ivy", "sales": "sam"})
        first = await p.served("ana", "it", "bo")
        second = await p.served("cy", "it", "bo")
        await p.fb_json(f"/ratings/{first}", "ana")
        await p.fb_json(f"/ratings/{second}", "cy")
        assert (
            await p.fb("POST", f"/ratings/{first}", "ana", json={"stars": 3})
        ).status_code == 201
        key = period_key(PeriodKind.MONTH, datetime.now(UTC))
        path = "/departments/it/scores"

        async def one_rating() -> dict | None:
            found = await p.fb_json(path, "ivy", params={"period": "month", "key": key})
            return found if found["department"]["ratings"] == 1 else None

        below = await p.until(one_rating)
        # One rater is below the threshold of two: counts, but no average.
        assert below["department"]["shown"] is False
        assert below["department"]["average"] is None
        assert below["department"]["invitations"] == 2

        assert (
            await p.fb("POST", f"/ratings/{second}", "cy", json={"stars": 5})
        ).status_code == 201

        async def two_ratings() -> dict | None:
            found = await p.fb_json(path, "ivy", params={"period": "month", "key": key})
            return found if found["department"]["ratings"] == 2 else None

        scores = await p.until(two_ratings)
        department, [pair] = scores["department"], scores["pairs"]
        assert department["shown"] is True
        assert department["average"] == 4.0
        assert department["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
        assert department["response_rate"] == 1.0
        # The organisation's mean is IT's own here, so calibration leaves it where it is.
        assert department["calibrated"] == 4.0
        assert (pair["consumer_department_id"], pair["average"]) == ("sales", 4.0)
        # Sales' manager is no reader of IT's scores.
        refused = await p.fb("GET", path, "sam", params={"period": "month", "key": key})
        assert refused.status_code == 403

        # The timer publishes the cell's new numbers as `feedback.score.updated`.
        def with_both(records: list) -> bool:
            return any(json.loads(r.value)["data"]["ratings"] == 2 for r in records)

        records = await read_keyed(
            p.feedback_settings.kafka_bootstrap_servers,
            p.feedback_settings.topic_name(topics.SCORES.name),
            f"month|{key}|it|*",
            until=with_both,
        )
        published = [json.loads(r.value) for r in records]
        assert {e["type"] for e in published} == {"feedback.score.updated"}
        last = published[-1]["data"]
        assert (last["average"], last["calibrated"], last["distinct_raters"]) == (4.0, 4.0, 2)
        assert [e["sequence"] for e in published] == list(range(1, len(published) + 1))


def _bearer(actor: str) -> dict[str, str]:
    from icr.kit.testing import bearer

    return bearer(actor)


async def test_the_invitation_follows_the_resolutions_trace(platform) -> None:
    import secrets

    from icr.kit.kafka import header

    async with platform() as p:
        await p.seed(PEOPLE, {"it": "ivy"})
        body = {"catalog_item_id": "help-it", "title": "traced", "form": {}}
        rid = (await p.req("POST", "/requests", "ana", body))["id"]
        await p.req("POST", f"/requests/{rid}/accept", "bo")
        trace = secrets.token_hex(16)
        response = await p.requests.post(
            f"/requests/{rid}/resolve",
            json={"note": "done"},
            headers={
                **_bearer("bo"),
                "traceparent": f"00-{trace}-{secrets.token_hex(8)}-01",
            },
        )
        assert response.status_code == 200, response.text
        bootstrap = p.feedback_settings.kafka_bootstrap_servers

        def resolved_in(records: list) -> bool:
            return any(b"requests.request.resolved" in r.value for r in records)

        requests_records = await read_keyed(
            bootstrap, p.feedback_settings.topic_name(topics.REQUESTS.name), rid, until=resolved_in
        )
        [rating] = await read_keyed(
            bootstrap, p.feedback_settings.topic_name(topics.RATINGS.name), rid, until=bool
        )
    cause = next(r for r in requests_records if b"requests.request.resolved" in r.value)
    resolved_event, rating_event = json.loads(cause.value), json.loads(rating.value)
    assert rating_event["type"] == "feedback.rating.requested"
    assert rating_event["causation_id"] == resolved_event["event_id"]
    assert rating_event["correlation_id"] == resolved_event["correlation_id"] == trace
    assert (header(rating.headers, "traceparent") or "").split("-")[1] == trace
