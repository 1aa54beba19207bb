"""The incentives service projects submitted requests, applying each event once."""

from __future__ import annotations

import asyncio

import pytest

from icr.contracts import topics
from icr.contracts.examples import request_submitted
from icr.contracts.requests import RequestSubmitted
from icr.incentives.main import build_app
from icr.incentives.settings import IncentivesSettings
from icr.incentives.store import TrackedRequestStore
from icr.kit.kafka import ensure_topics
from icr.kit.mongo import Mongo
from icr.kit.testing import publish, running_app, service_settings_for_test, wait_ready

pytestmark = pytest.mark.infra


async def test_submitted_request_is_tracked_once_even_when_delivered_twice() -> None:
    settings = service_settings_for_test(IncentivesSettings)
    await ensure_topics(settings, [topics.REQUESTS])
    first = request_submitted("r-1", provider_department_id="legal")
    second = request_submitted("r-2", provider_department_id="legal")
    await publish(settings, first, first, second)

    async with running_app(build_app(settings)) as http:
        await wait_ready(http)
        async with asyncio.timeout(20):
            while (
                len(
                    (
                        await http.get("/tracked-requests", params={"request_id": ["r-1", "r-2"]})
                    ).json()
                )
                < 2
            ):
                await asyncio.sleep(0.1)
        rows = (await http.get("/tracked-requests", params={"request_id": ["r-1"]})).json()
    assert rows[0]["provider_department_id"] == "legal"
    assert rows[0]["status"] == "submitted"

    mongo = Mongo(settings)
    try:
        store = TrackedRequestStore(mongo)
        # Replaying the same event directly (as a group reset would) changes nothing.
        data = RequestSubmitted.model_validate(first.data)
        changed = await store.record_submitted(
            event_id=first.event_id,
            request_id=data.request_id,
            requester_id=data.requester_id,
            provider_department_id=data.provider_department_id,
            submitted_at=data.submitted_at,
        )
        [tracked] = await store.by_ids(["r-1"])
    finally:
        await mongo.close()
    assert changed is False
    assert tracked.events_applied == 1
