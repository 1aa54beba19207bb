"""The feedback service records a pending rating when a request is submitted, once."""

from __future__ import annotations

import asyncio
import json

import pytest

from icr.contracts import topics
from icr.contracts.examples import request_submitted
from icr.feedback.main import build_app
from icr.feedback.settings import FeedbackSettings
from icr.kit.kafka import ensure_topics
from icr.kit.testing import publish, read_topic, running_app, service_settings_for_test, wait_ready

pytestmark = pytest.mark.infra


async def test_pending_rating_is_recorded_once_for_a_redelivered_submission() -> None:
    settings = service_settings_for_test(FeedbackSettings)
    await ensure_topics(settings, [topics.REQUESTS])
    envelope = request_submitted("r-1")
    await publish(settings, envelope, envelope)  # the second copy is a redelivery

    async with running_app(build_app(settings)) as http:
        await wait_ready(http)
        async with asyncio.timeout(20):
            while not (await http.get("/ratings", params={"request_id": "r-1"})).json():
                await asyncio.sleep(0.1)
        ratings = (await http.get("/ratings", params={"request_id": ["r-1", "r-2"]})).json()
        events = await read_topic(
            settings.kafka_bootstrap_servers, settings.topic_name(topics.RATINGS.name), count=1
        )
        # The redelivery must not publish a second event: asking for two finds only one.
        with pytest.raises(AssertionError, match="read 1 of 2"):
            await read_topic(
                settings.kafka_bootstrap_servers,
                settings.topic_name(topics.RATINGS.name),
                count=2,
                timeout=1.5,
            )

    assert [(r["request_id"], r["rater_id"], r["status"]) for r in ratings] == [
        ("r-1", "ana", "pending")
    ]
    published = json.loads(events[0].value)
    assert published["type"] == "feedback.rating.requested"
    assert published["causation_id"] == envelope.event_id
    assert published["correlation_id"] == envelope.event_id


async def test_ratings_batch_read_refuses_too_many_ids() -> None:
    settings = service_settings_for_test(FeedbackSettings)
    async with running_app(build_app(settings)) as http:
        response = await http.get("/ratings", params={"request_id": [f"r{i}" for i in range(201)]})
    assert response.status_code == 422
