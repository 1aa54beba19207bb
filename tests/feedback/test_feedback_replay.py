"""The score projection is rebuilt from the topics alone, and the rebuild yields the same numbers
(replayed twice over, as a redelivery of everything would)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.contracts import registry, topics
from icr.contracts.feedback import (
    EvaluationSubmitted,
    RatingChanged,
    RatingRequested,
    RatingSubmitted,
)
from icr.feedback.handlers import scores
from icr.feedback.handlers.deps import Deps
from icr.feedback.settings import FeedbackSettings
from icr.feedback.store.scores import SCORES, _cell
from icr.kit.kafka import decode
from icr.kit.mongo import Mongo
from icr.kit.outbox import Outbox
from icr.kit.periods import PeriodKind, period_key
from icr.kit.testing import service_settings_for_test, topic_records

pytestmark = pytest.mark.infra

PEOPLE = {
    "ana": ("sales", ["employee"]),
    "cy": ("sales", ["employee"]),
    "dan": ("hr", ["employee"]),
    "bo": ("it", ["agent"]),
    "ivy": ("it", ["manager"]),
    "hal": ("hr", ["manager"]),
}


async def _cells(mongo: Mongo) -> dict[str, Any]:
    docs = await mongo.collection(SCORES).find({}).to_list()
    return {d["_id"]: _cell(d).cell for d in docs}


async def test_rebuilding_the_scores_from_the_topics_gives_the_same_numbers(platform) -> None:
    async with platform(anonymity_threshold=2, rating_change_hours=1) as p:
        await p.seed(PEOPLE, {"it": "ivy", "hr": "hal"})
        rated = []
        for person, provider, agent, stars in [
            ("ana", "it", "bo", 5),
            ("cy", "it", "bo", 2),
            ("dan", "it", "bo", 4),
            ("ana", "hr", "hal", 3),
            ("cy", "hr", "hal", None),  # invited, never answers
        ]:
            rid = await p.served(person, provider, agent)
            await p.fb_json(f"/ratings/{rid}", person)
            if stars is not None:
                response = await p.fb("POST", f"/ratings/{rid}", person, json={"stars": stars})
                assert response.status_code == 201
            rated.append((person, rid))
        changed = await p.fb("PUT", f"/ratings/{rated[0][1]}", "ana", json={"stars": 4})
        assert changed.status_code == 200
        now = datetime.now(UTC)
        campaign = await p.fb(
            "POST",
            "/campaigns",
            "root",
            json={
                "name": "review",
                "period_start": (now - timedelta(hours=1)).isoformat(),
                "period_end": (now + timedelta(hours=1)).isoformat(),
                "questions": [{"question_id": "nps", "kind": "nps", "text": {"en": "?"}}],
            },
        )
        cid = campaign.json()["campaign_id"]
        for person, recommend in (("ana", 9), ("cy", 3)):
            answer = {"provider_department_id": "it", "scores": {"nps": recommend}}
            response = await p.fb("POST", f"/campaigns/{cid}/evaluations", person, json=answer)
            assert response.status_code == 204, response.text

        live = Mongo(p.feedback_settings)
        start = now - timedelta(hours=1)

        async def caught_up() -> bool:
            # Every kind of period: one event moves the week's, the month's and the quarter's
            # cells one after the other, so the month alone may be ahead of the quarter.
            cells = await _cells(live)
            for kind in PeriodKind:
                org = cells.get(f"{kind.value}|{period_key(kind, now)}|*|*")
                it = cells.get(f"{kind.value}|{period_key(kind, start)}|it|*")
                if not (
                    org
                    and org.invitations == 5
                    and org.ratings == 4
                    and org.stars_sum == 13
                    and it
                    and it.nps_respondents == 2
                ):
                    return False
            return True

        await p.until(caught_up)
        before = await _cells(live)
        await live.close()

        bootstrap = p.feedback_settings.kafka_bootstrap_servers
        records = [
            record
            for topic in (topics.RATINGS, topics.EVALUATIONS)
            for record in await topic_records(bootstrap, p.feedback_settings.topic_name(topic.name))
        ]

    rebuild_settings = service_settings_for_test(FeedbackSettings)
    fresh = Mongo(rebuild_settings)
    deps = Deps.build(fresh, Outbox(rebuild_settings), rebuild_settings)
    project = {
        RatingRequested: scores.project_rating_requested,
        RatingSubmitted: scores.project_rating_submitted,
        RatingChanged: scores.project_rating_changed,
        EvaluationSubmitted: scores.project_evaluation,
    }
    try:
        for _ in range(2):  # the second pass is a redelivery of everything: it adds nothing
            for record in records:
                envelope = decode(record.value)
                event = registry.parse(envelope)
                handler = project.get(type(event))
                if handler is not None:
                    await handler(event, envelope.event_id, deps=deps)  # type: ignore[operator]
        after = await _cells(fresh)
    finally:
        await fresh.client.drop_database(rebuild_settings.database)
        await fresh.close()
    assert after == before
    assert len(before) >= 3 * 5  # week, month and quarter of IT, HR, two pairs and the org
