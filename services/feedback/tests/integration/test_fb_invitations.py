"""Invitations from resolutions on the real broker and store: invite, skip, remind, expire."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from icr.contracts import topics
from icr.feedback.testing import T0, resolved
from icr.kit.testing import read_keyed

pytestmark = pytest.mark.infra


async def test_resolution_invites_the_requester_once_for_a_redelivered_event(feedback) -> None:
    async with feedback() as fb:
        event = resolved("r-1", seq=3)
        await fb.send(event, event)
        rating = await fb.rating("r-1")
        assert rating["status"] == "invited"
        assert rating["rater_id"] == "ana"
        records = await read_keyed(
            fb.settings.kafka_bootstrap_servers,
            fb.settings.topic_name(topics.RATINGS.name),
            "r-1",
            until=lambda found: len(found) >= 1,
        )
    published = [json.loads(r.value) for r in records]
    assert [p["type"] for p in published] == ["feedback.rating.requested"]
    assert published[0]["causation_id"] == event.event_id


async def test_requester_of_the_provider_department_is_skipped(feedback) -> None:
    async with feedback() as fb:
        await fb.send(resolved("r-own", requester="bo", requester_department="it"))
        rating = await fb.rating("r-own", actor="bo")
    assert (rating["status"], rating["skip_reason"]) == ("skipped", "same_department")


async def test_reminder_then_expiry_fire_once_on_time(feedback) -> None:
    async with feedback(rating_expiry_hours=10, rating_reminder_before_hours=2) as fb:
        await fb.send(resolved("r-2"))
        await fb.rating("r-2")
        fb.clock.set(T0 + timedelta(hours=8, minutes=1))

        async def reminded() -> bool:
            return (await fb.rating("r-2"))["reminded_at"] is not None

        await fb.until(reminded)
        fb.clock.set(T0 + timedelta(hours=10))

        async def expired() -> bool:
            return (await fb.rating("r-2"))["status"] == "expired"

        await fb.until(expired)
        late = await fb.call("POST", "/ratings/r-2", "ana", json={"stars": 5})
        types = await _types(fb, "r-2", 3)
    assert late.status_code == 409
    assert types == [
        "feedback.rating.requested",
        "feedback.rating.reminder_due",
        "feedback.rating.expired",
    ]


async def _types(fb, key: str, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    records = await read_keyed(
        fb.settings.kafka_bootstrap_servers,
        fb.settings.topic_name(topics.RATINGS.name),
        key,
        until=lambda found: len(found) >= count,
        timeout=10,
    )
    return [json.loads(r.value)["type"] for r in records]
