"""Campaigns on the real broker and store, their invitees taken from the requests service's
events: exactly the people each department served, results hidden below the threshold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from icr.contracts import topics
from icr.kit.periods import PeriodKind, period_key
from icr.kit.testing import read_keyed

pytestmark = pytest.mark.infra

PEOPLE = {
    "ana": ("sales", ["employee"]),
    "cy": ("sales", ["employee"]),
    "eli": ("sales", ["employee"]),
    "dan": ("hr", ["employee"]),
    "bo": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
    "hal": ("hr", ["manager"]),
}
QUESTIONS = [
    {"question_id": "quality", "kind": "scale", "text": {"en": "How good was the service?"}},
    {"question_id": "nps", "kind": "nps", "text": {"en": "Would you recommend it?"}},
    {"question_id": "say", "kind": "text", "text": {"en": "Anything else?"}},
]


async def test_campaign_invites_exactly_the_served_and_hides_results_below_threshold(
    platform,
) -> None:
    async with platform(anonymity_threshold=3) as p:
        await p.seed(PEOPLE, {"it": "ivy", "hr": "hal"})
        for person in ("ana", "cy", "eli"):
            await p.served(person, "it", "bo")
        await p.served("dan", "hr", "hal")  # HR serving its own: no internal customer
        last = await p.served("ana", "hr", "hal")
        await p.fb_json(f"/ratings/{last}", "ana")  # the projection has seen every resolution
        now = datetime.now(UTC)
        body = {
            "name": "Q4 service review",
            "period_start": (now - timedelta(hours=1)).isoformat(),
            "period_end": (now + timedelta(hours=1)).isoformat(),
            "questions": QUESTIONS,
            "threshold": 3,
        }
        refused = await p.fb("POST", "/campaigns", "ivy", json=body)
        assert refused.status_code == 403
        opened = await p.fb("POST", "/campaigns", "root", json=body)
        assert opened.status_code == 201, opened.text
        cid = opened.json()["campaign_id"]

        invitees = (await p.fb("GET", f"/campaigns/{cid}/invitees", "root")).json()["invitees"]
        assert invitees == {"hr": ["ana"], "it": ["ana", "cy", "eli"]}
        mine = (await p.fb("GET", f"/campaigns/{cid}/invitations", "ana")).json()
        assert mine["departments"] == ["hr", "it"]

        path = f"/campaigns/{cid}/evaluations"

        async def evaluate(who: str, quality: int, recommend: int) -> int:
            answer = {
                "provider_department_id": "it",
                "scores": {"quality": quality, "nps": recommend},
                "texts": {"say": f"quality was {quality}"},
            }
            return (await p.fb("POST", path, who, json=answer)).status_code

        assert await evaluate("dan", 5, 10) == 403  # IT never served Dan
        assert await evaluate("ana", 4, 10) == 204
        assert await evaluate("ana", 1, 0) == 409  # once per department
        assert await evaluate("cy", 2, 6) == 204
        bad = await p.fb(
            "POST",
            path,
            "eli",
            json={"provider_department_id": "it", "scores": {"quality": 9, "nps": 10}},
        )
        assert bad.status_code == 422
        unknown = await p.fb(
            "POST", path, "eli", json={"provider_department_id": "it", "who": "eli"}
        )
        assert unknown.status_code == 422

        hidden = (
            await p.fb("GET", f"/campaigns/{cid}/results", "ivy", params={"department": "it"})
        ).json()
        assert (hidden["groups"], hidden["comments"]) == ([], {})

        assert await evaluate("eli", 3, 9) == 204
        closed = await p.fb("POST", f"/campaigns/{cid}/close", "root")
        assert closed.status_code == 200, closed.text
        results = closed.json()["results"]
        assert [(r["provider_department_id"], r["consumer_department_id"]) for r in results] == [
            ("it", None),
            ("it", "sales"),
        ]
        assert results[0]["respondents"] == 3
        assert results[0]["averages"] == {"quality": 3.0}
        assert results[0]["nps"] == pytest.approx(33.3)
        shown = (
            await p.fb("GET", f"/campaigns/{cid}/results", "ivy", params={"department": "it"})
        ).json()
        assert shown["comments"] == {"it": ["quality was 2", "quality was 3", "quality was 4"]}
        assert "ana" not in json.dumps(shown)

        assert await evaluate("ana", 4, 10) == 409  # closed: refused

        # The campaign's NPS reaches IT's score for the campaign's period (three respondents
        # meet the service's threshold of three).
        key = period_key(PeriodKind.MONTH, now - timedelta(hours=1))

        async def nps() -> float | None:
            found = await p.fb_json(
                "/departments/it/scores", "ivy", params={"period": "month", "key": key}
            )
            value: float | None = found["department"]["nps"]
            return value

        assert await p.until(nps) == pytest.approx(33.3)

        records = await read_keyed(
            p.feedback_settings.kafka_bootstrap_servers,
            p.feedback_settings.topic_name(topics.CAMPAIGNS.name),
            cid,
            until=lambda found: len(found) >= 2,
        )
    assert [json.loads(r.value)["type"] for r in records] == [
        "feedback.campaign.opened",
        "feedback.campaign.closed",
    ]
