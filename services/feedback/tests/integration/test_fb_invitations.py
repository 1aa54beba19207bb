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


async def test_two_replicas_remind_and_expire_once(feedback) -> None:
    from icr.feedback.main import build_app
    from icr.kit.clock import SettableClock
    from icr.kit.testing import running_app, wait_ready

    async with feedback(
        rating_expiry_hours=10, rating_reminder_before_hours=2, invitation_cap=10
    ) as fb:
        # A second replica on the same store and topics, its clock in step with the first's.
        other_clock = SettableClock(T0)
        async with running_app(build_app(fb.settings, clock=other_clock)) as other:
            await wait_ready(other)
            await fb.send(*(resolved(f"r-many-{n}") for n in range(5)))
            for n in range(5):
                await fb.rating(f"r-many-{n}")
            for clock in (fb.clock, other_clock):
                clock.set(T0 + timedelta(hours=8, minutes=1))

            async def all_reminded() -> bool:
                ratings = [await fb.rating(f"r-many-{n}") for n in range(5)]
                return all(r["reminded_at"] for r in ratings)

            await fb.until(all_reminded)
            for clock in (fb.clock, other_clock):
                clock.set(T0 + timedelta(hours=10))

            async def all_expired() -> bool:
                ratings = [await fb.rating(f"r-many-{n}") for n in range(5)]
                return all(r["status"] == "expired" for r in ratings)

            await fb.until(all_expired)
        for n in range(5):
            assert await _types(fb, f"r-many-{n}", 3) == [
                "feedback.rating.requested",
                "feedback.rating.reminder_due",
                "feedback.rating.expired",
            ]


async def test_fatigue_cap_on_the_store_counts_each_request_once(feedback) -> None:
    async with feedback(invitation_cap=2) as fb:
        first = resolved("r-cap-0", seq=1)
        await fb.send(first, resolved("r-cap-1"), first, resolved("r-cap-2"))
        statuses = [await fb.rating(f"r-cap-{n}") for n in range(3)]
    # Three requests land on partitions of their own, in any order: two places, one skip.
    assert sorted((r["status"], r["skip_reason"] or "") for r in statuses) == [
        ("invited", ""),
        ("invited", ""),
        ("skipped", "fatigue_cap"),
    ]


async def test_sampling_skips_with_its_reason(feedback) -> None:
    async with feedback(rating_sample_rate=0.0) as fb:
        await fb.send(resolved("r-sampled"))
        rating = await fb.rating("r-sampled")
    assert (rating["status"], rating["skip_reason"]) == ("skipped", "sampled_out")


async def test_reopen_and_resolve_again_replaces_the_unanswered_invitation(feedback) -> None:
    async with feedback() as fb:
        await fb.send(resolved("r-again", seq=5))
        first = await fb.rating("r-again")
        later = T0 + timedelta(days=2)
        await fb.send(resolved("r-again", at=later, reopen_count=1, seq=9))

        async def second_round() -> dict | None:
            found = await fb.rating("r-again")
            return found if found["resolution"] == 2 else None

        second = await fb.until(second_round)
        rated = await fb.call("POST", "/ratings/r-again", "ana", json={"stars": 4})
        assert rated.status_code == 201
        await fb.send(resolved("r-again", at=later, reopen_count=2, seq=14))

        async def third_round() -> dict | None:
            found = await fb.rating("r-again")
            return found if found["resolution"] == 3 else None

        third = await fb.until(third_round)
        types = await _types(fb, "r-again", 4)
    assert (first["status"], second["status"]) == ("invited", "invited")
    assert second["expires_at"] > first["expires_at"]
    assert (third["status"], third["stars"], third["skip_reason"]) == ("rated", 4, "already_rated")
    assert types == [
        "feedback.rating.requested",
        "feedback.rating.requested",
        "feedback.rating.submitted",
        "feedback.rating.skipped",
    ]
