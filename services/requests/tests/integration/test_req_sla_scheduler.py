"""The SLA scheduler on the real store and broker: timers fire on time, once across replicas,
and after a restart."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from icr.contracts.topics import REQUESTS
from icr.kit.scheduler import DueWork
from icr.kit.testing import read_topic
from icr.requests.domain import Conflict, Status
from icr.requests.handlers import lifecycle
from icr.requests.handlers.sla import sla_timers
from icr.requests.store.request_codec import AUTO_CLOSE_DUE, SLA_DUE

pytestmark = pytest.mark.infra

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai; first response in 1h
MINUTE = timedelta(minutes=1)


def history(request, action: str) -> list:
    return [h for h in request.history if h.action == action]


async def run_replicas(service, at: datetime) -> int:
    """Two replicas' SLA timers racing over the same documents at `at`; how many fired."""
    a = sla_timers(service.at(at), owner="replica-a")
    b = sla_timers(service.at(at), owner="replica-b")
    counts = await asyncio.gather(*(t.run_due() for t in (*a, *b)))
    return sum(counts)


async def test_warnings_and_breaches_fire_once_with_two_replicas(service) -> None:
    ids = [await service.submit() for _ in range(12)]
    bootstrap, topic = service.settings.kafka_bootstrap_servers, service.topic(REQUESTS.name)
    assert await run_replicas(service, T0 + 44 * MINUTE) == 0  # warning due at 45 minutes
    assert await run_replicas(service, T0 + 46 * MINUTE) == 12
    assert await run_replicas(service, T0 + 47 * MINUTE) == 0
    assert await run_replicas(service, T0 + 61 * MINUTE) == 12
    assert await run_replicas(service, T0 + 62 * MINUTE) == 0

    for rid in ids:
        stored = (await service.deps.requests.get(rid)).value
        assert len(history(stored, "sla_warning")) == 1
        assert len(history(stored, "sla_breached")) == 1
        assert stored.first_response.warned_at == T0 + 46 * MINUTE
        assert stored.first_response.breached_at == T0 + 61 * MINUTE
    records = await read_topic(bootstrap, topic, count=36)
    types = [json.loads(r.value)["type"] for r in records]
    assert types.count("requests.sla.warning") == 12
    assert types.count("requests.sla.breached") == 12
    with pytest.raises(AssertionError):
        await read_topic(bootstrap, topic, count=37, timeout=1.5)


async def test_a_timer_left_by_a_crashed_replica_fires_after_its_lease(service) -> None:
    rid = await service.submit()

    async def crash(_: object, __: datetime) -> None:
        raise RuntimeError("replica died mid-timer")

    dying = DueWork(
        service.deps.requests.collection,
        due_field=SLA_DUE,
        handler=crash,
        owner="dying",
        lease_seconds=1.5,
        clock=lambda: T0 + 46 * MINUTE,
    )
    assert await dying.run_due() == 0  # claimed, then crashed: the lease stays
    assert await run_replicas(service, T0 + 46 * MINUTE + timedelta(seconds=10)) == 0
    # Leases are about live processes, so they run out in real time (on the store's clock).
    async with asyncio.timeout(10):
        while not (fired := await run_replicas(service, T0 + 47 * MINUTE)):
            await asyncio.sleep(0.05)
    assert fired == 1
    stored = (await service.deps.requests.get(rid)).value
    assert len(history(stored, "sla_warning")) == 1


async def test_timers_survive_a_restart(start, new_settings) -> None:
    settings = new_settings(sla_poll_seconds=0.05)
    async with start(settings) as before:
        rid = await before.submit()
        doc = await before.deps.requests.collection.find_one({"_id": rid})
        assert doc[SLA_DUE] == T0 + 45 * MINUTE
    # Down over the due time; the next process's own scheduler finds the breach waiting.
    async with start(settings, T0 + 2 * 60 * MINUTE, seed=False) as after:
        async with asyncio.timeout(10):
            while not (await after.deps.requests.get(rid)).value.first_response.breached_at:
                await asyncio.sleep(0.05)
        records = await read_topic(
            settings.kafka_bootstrap_servers, after.topic(REQUESTS.name), count=2
        )
    types = [json.loads(r.value)["type"] for r in records]
    # Found late, the breach makes the missed warning moot: one event, not two.
    assert types == ["requests.request.submitted", "requests.sla.breached"]


async def test_pausing_clears_the_timer_and_resuming_sets_it_again(service) -> None:
    rid = await service.submit()
    bo, ana, deps = service.actor("bo"), service.actor("ana"), service.deps
    await lifecycle.accept(rid, actor=bo, deps=deps)  # stops the first-response clock
    doc = await deps.requests.collection.find_one({"_id": rid})
    # Resolution: 16 business hours, warning with 4 left, i.e. Tuesday 12:00 in Shanghai.
    assert doc[SLA_DUE] == datetime(2024, 6, 4, 4, 0, tzinfo=UTC)
    await lifecycle.ask_requester(rid, "Which model?", actor=bo, deps=deps)
    doc = await deps.requests.collection.find_one({"_id": rid})
    assert doc[SLA_DUE] is None
    assert doc["due_at"].year == 9999  # nothing can fall due while paused
    service.clock.set(T0 + 120 * MINUTE)
    await lifecycle.reply(rid, "pro", actor=ana, deps=deps)
    doc = await deps.requests.collection.find_one({"_id": rid})
    assert doc[SLA_DUE] == datetime(2024, 6, 4, 6, 0, tzinfo=UTC)


async def test_an_unconfirmed_resolution_closes_after_the_configured_days(
    start, new_settings
) -> None:
    settings = new_settings(auto_close_days=2)
    async with start(settings) as service:
        rid = await service.submit()
        bo, deps = service.actor("bo"), service.deps
        await lifecycle.accept(rid, actor=bo, deps=deps)
        await lifecycle.resolve(rid, "done", actor=bo, deps=deps)
        doc = await deps.requests.collection.find_one({"_id": rid})
        assert doc[AUTO_CLOSE_DUE] == T0 + timedelta(days=2)
        assert await run_replicas(service, T0 + timedelta(days=2) - MINUTE) == 0
        assert await run_replicas(service, T0 + timedelta(days=2)) == 1
        stored = (await deps.requests.get(rid)).value
        assert stored.status is Status.CLOSED
        assert stored.history[-1].actor_id == "system"
        records = await read_topic(
            settings.kafka_bootstrap_servers, service.topic(REQUESTS.name), count=7
        )
    closed = [json.loads(r.value) for r in records if b"closed" in r.value]
    assert [c["data"]["automatic"] for c in closed if c["type"].endswith(".closed")] == [True]


async def test_the_warning_share_and_reopen_window_are_settings(start, new_settings) -> None:
    settings = new_settings(sla_warning_share=0.5, reopen_window_days=1)
    async with start(settings) as service:
        rid = await service.submit()
        assert await run_replicas(service, T0 + 29 * MINUTE) == 0
        assert await run_replicas(service, T0 + 30 * MINUTE) == 1  # half of the hour left
        bo, ana, deps = service.actor("bo"), service.actor("ana"), service.deps
        await lifecycle.accept(rid, actor=bo, deps=deps)
        await lifecycle.resolve(rid, "done", actor=bo, deps=deps)
        service.clock.set(T0 + timedelta(days=1, minutes=1))
        with pytest.raises(Conflict, match="reopen window"):
            await lifecycle.reopen(rid, "still broken", actor=ana, deps=deps)
