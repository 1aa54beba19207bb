"""Exactly-once on the real broker and store: the brief's flow, redelivery, a whole-topic
replay by a fresh consumer group, two consumers in one group with one stopped mid-stream."""

from __future__ import annotations

import asyncio
import json

import pytest

from icr.contracts import topics
from icr.incentives.consumers import react
from icr.kit.consumer import ConsumerRunner, Subscription
from icr.kit.inbox import INBOX_COLLECTION, Inbox
from icr.kit.testing import read_topic

pytestmark = pytest.mark.infra


async def test_resolved_in_time_rated_five_pays_and_reopen_claws_back(  # type: ignore[no-untyped-def]
    service, flow, until, invariant
) -> None:
    f = flow()
    await service.publish(f.submitted(), f.resolved(), f.rated(5))
    await until(lambda: _balances(service, {"bo": 10, "dept:it": 3, "ana": 1}))
    await service.publish(f.reopened(1))
    await until(lambda: _balances(service, {"bo": 0, "dept:it": 0, "ana": 1}))
    await invariant(service.settings)
    records = await read_topic(
        service.settings.kafka_bootstrap_servers,
        service.settings.topic_name(topics.LEDGER.name),
        count=5,
    )
    types = sorted(json.loads(r.value)["type"] for r in records)
    assert types == ["incentives.points.awarded"] * 3 + ["incentives.points.revoked"] * 2


async def test_recovery_needed_pays_nothing_and_an_expired_rating_settles(  # type: ignore[no-untyped-def]
    service, flow, until, invariant
) -> None:
    rough, quiet = flow(), flow(assignee="cy")
    await service.publish(rough.submitted(), rough.resolved(), rough.rated(1), rough.recovery())
    await service.publish(quiet.submitted(), quiet.resolved(), quiet.expired())

    async def settled() -> bool:
        found = await service.deps.facts.by_ids([rough.request_id, quiet.request_id])
        return len(found) == 2 and all(f.settled for f in found)

    await until(settled)
    assert await service.balance("bo") == 0
    assert await service.balance("cy") == 0
    assert await service.balance("ana") == 1  # the honest rating still earns its point
    await invariant(service.settings)


async def test_redelivered_events_and_a_replay_by_a_fresh_group_pay_nothing_twice(  # type: ignore[no-untyped-def]
    service, flow, until, invariant, ledger_of
) -> None:
    flows = [flow() for _ in range(5)]
    published = []
    for f in flows:
        published += [f.submitted(), f.resolved(), f.rated(5)]
    await service.publish(*published)
    await until(lambda: _balances(service, {"bo": 50, "dept:it": 15, "ana": 5}))
    before = await invariant(service.settings)
    ids = {e.id for e in await ledger_of(service).all_entries()}

    await service.publish(*published)  # Kafka redelivers: same event ids
    # A replay: a new consumer group reads every topic from the start, a year later, with the
    # inbox and positions of the old group of no help. Only the ledger's unique key stands.
    sub = Subscription(group="icr.incentives.replay")
    react(sub, service.deps)
    runtime = service.runtime
    inbox = Inbox(
        runtime.mongo.collection(INBOX_COLLECTION), service.settings.topic_name(sub.group)
    )
    assert runtime.producer is not None
    replayer = ConsumerRunner(service.settings, sub, inbox, runtime.producer)
    task = asyncio.create_task(replayer.run())
    try:

        async def replayed() -> bool:
            count = await inbox.collection.count_documents({"group": inbox.group})
            return count >= len(published)

        await until(replayed)
    finally:
        await replayer.stop()
        task.cancel()
    await asyncio.sleep(0.5)  # the main group's copies of the redelivery
    assert await invariant(service.settings) == before
    assert {e.id for e in await ledger_of(service).all_entries()} == ids


async def test_two_consumers_in_one_group_one_stopped_midway_count_each_event_once(  # type: ignore[no-untyped-def]
    service, run, flow, until, invariant
) -> None:
    flows = [flow() for _ in range(24)]
    async with run(service.settings) as second:
        await second.publish(*[e for f in flows[:12] for e in (f.submitted(), f.resolved())])
        await asyncio.sleep(1.0)
        await second.publish(*[f.rated(5) for f in flows[:12]])
    # The second member left the group mid-stream: the first takes its partitions over.
    await service.publish(
        *[e for f in flows[12:] for e in (f.submitted(), f.resolved(), f.rated(5))]
    )
    await until(lambda: _balances(service, {"bo": 240, "ana": 24}), timeout=60)
    balances = await invariant(service.settings)
    assert balances["bo"] == 240  # the pair cap (500 a month) is not reached: 24 x (10 + 3)


async def _balances(service, expected: dict[str, int]) -> bool:  # type: ignore[no-untyped-def]
    return all([await service.balance(a) == v for a, v in expected.items()])


async def test_a_poll_of_many_requests_keeps_each_requests_order_and_pays_each_once(  # type: ignore[no-untyped-def]
    service, flow, until, invariant
) -> None:
    """Many requests' events in one poll, handled at once (one lane per request): for some, a
    resolution, a reopen and the next round's resolution; for others, the rating published
    before the resolution. Each is settled as if its events came one by one."""
    assert service.settings.consumer_concurrency > 1
    reopened = [flow(requester=f"p{n}", requester_dept=f"d{n}", assignee=f"a{n}") for n in range(8)]
    early = [flow(requester=f"q{n}", requester_dept=f"e{n}", assignee=f"b{n}") for n in range(8)]
    batch = [e for f in early for e in (f.rated(5), f.submitted(), f.resolved())]
    for f in reopened:
        batch += [f.submitted(), f.resolved(), f.reopened(1), f.resolved(round=1)]
    await service.publish(*batch)

    async def next_round_resolved() -> bool:
        found = await service.deps.facts.by_ids([f.request_id for f in reopened])
        return len(found) == 8 and all(f.round == 1 and f.resolution for f in found)

    await until(next_round_resolved)
    await service.publish(*[f.rated(5) for f in reopened])
    expected = {"dept:it": 3 * 16}
    for n in range(8):
        expected |= {f"a{n}": 10, f"p{n}": 1, f"b{n}": 10, f"q{n}": 1}

    async def paid() -> bool:
        return all([await service.balance(a) == v for a, v in expected.items()])

    await until(paid)
    assert await invariant(service.settings) == expected
