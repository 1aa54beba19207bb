"""The recovery consumer on the real broker and store: one recovery request per low rating,
however often Kafka (or a replay, with new event ids) delivers its RecoveryNeeded."""

from __future__ import annotations

import asyncio
import json

import pytest

from icr.contracts import Envelope, topics
from icr.contracts.feedback import RecoveryNeeded
from icr.kit.testing import publish, read_keyed

from .conftest import T0

pytestmark = pytest.mark.infra


def needed(recovery_id: str, **changes: object) -> RecoveryNeeded:
    values: dict[str, object] = {
        "request_id": "rated-1",
        "rater_id": "ana",
        "rater_department_id": "sales",
        "provider_department_id": "it",
        "stars": 1,
        "raised_at": T0,
        "recovery_request_id": recovery_id,
        **changes,
    }
    return RecoveryNeeded(**values)  # type: ignore[arg-type]


async def test_redelivered_and_replayed_recovery_needed_open_one_request(service) -> None:
    first = Envelope.wrap(needed("rec-1"), source="feedback")
    replayed = Envelope.wrap(needed("rec-1"), source="feedback")  # same event, new id
    # Same key, so it comes after the others on the partition: once it is done, they are.
    marker = Envelope.wrap(needed("rec-2", stars=2), source="feedback")
    await publish(service.settings, first, first, replayed, marker)

    async with asyncio.timeout(30):
        while await service.deps.requests.get("rec-2") is None:
            await asyncio.sleep(0.1)
    opened = await service.deps.requests.get("rec-1")
    assert opened is not None
    assert (opened.value.provider_department_id, opened.value.requester_id) == ("it", "ana")

    def both_submitted(records: list) -> bool:
        return {r.key for r in records if b"submitted" in r.value} >= {b"rec-1", b"rec-2"}

    records = await read_keyed(
        service.settings.kafka_bootstrap_servers,
        service.settings.topic_name(topics.REQUESTS.name),
        {"rec-1", "rec-2"},
        until=both_submitted,
    )
    submitted = [
        json.loads(r.value)
        for r in records
        if r.key == b"rec-1" and json.loads(r.value)["type"] == "requests.request.submitted"
    ]
    assert len(submitted) == 1
    assert submitted[0]["data"]["recovery_for_request_id"] == "rated-1"
