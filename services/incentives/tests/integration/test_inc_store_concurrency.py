"""Concurrency and crashes against the real store: concurrent redemptions on one balance and on
one reward's stock, and an entry whose writer died before counting it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from icr.incentives.domain.errors import InsufficientPoints, OutOfStock
from icr.incentives.domain.ledger import Entry, Kind
from icr.incentives.domain.rewards import Reward, State
from icr.incentives.handlers.ledger import record_entry
from icr.incentives.handlers.rewards import redeem
from icr.kit.directory import Member

pytestmark = pytest.mark.infra

ANA = Member("ana", "sales", frozenset({"employee"}))


def grant(account: str, amount: int, source: str) -> Entry:
    return Entry(account, "sales", amount, Kind.AWARD, "seed", source, "seed", 0, datetime.now(UTC))


async def attempt(deps, reward_id: str) -> str:  # type: ignore[no-untyped-def]
    try:
        return str((await redeem(reward_id, member=ANA, deps=deps)).state)
    except InsufficientPoints:
        return "insufficient_points"
    except OutOfStock:
        return "out_of_stock"


async def test_concurrent_redemptions_never_take_a_balance_below_zero(service, invariant) -> None:  # type: ignore[no-untyped-def]
    deps = service.deps
    await record_entry(grant("ana", 100, "seed-1"), deps=deps)
    await deps.rewards.put(Reward("mug", {"en": "Mug"}, cost=30, stock=100))
    outcomes = await asyncio.gather(*(attempt(deps, "mug") for _ in range(12)))
    assert sorted(outcomes).count(State.RESERVED) == 3
    assert outcomes.count("insufficient_points") == 9
    account = await deps.accounts.get("ana")
    assert (account.balance, account.available, account.reserved) == (10, 10, 0)
    assert (await deps.rewards.get("mug")).stock == 97
    await invariant(service.settings)


async def test_concurrent_redemptions_never_take_stock_below_zero(service, invariant) -> None:  # type: ignore[no-untyped-def]
    deps = service.deps
    await record_entry(grant("ana", 1000, "seed-2"), deps=deps)
    await deps.rewards.put(Reward("day-off", {"en": "Day off"}, cost=10, stock=2))
    outcomes = await asyncio.gather(*(attempt(deps, "day-off") for _ in range(10)))
    assert outcomes.count(State.RESERVED) == 2
    assert outcomes.count("out_of_stock") == 8
    assert (await deps.rewards.get("day-off")).stock == 0
    account = await deps.accounts.get("ana")
    assert (account.balance, account.reserved) == (980, 0)  # the refused ones hold nothing
    await invariant(service.settings)


async def test_an_entry_whose_writer_died_before_counting_it_is_counted_by_the_timer(  # type: ignore[no-untyped-def]
    service, until, invariant
) -> None:
    deps = service.deps
    # The append happened, the process died before the projection: only the timer is left.
    assert await deps.ledger.append(grant("bo", 7, "crash-1"), project_due=datetime.now(UTC))

    async def counted() -> bool:
        return await service.balance("bo") == 7

    await until(counted, timeout=15)
    await invariant(service.settings)


async def test_an_interrupted_redemption_is_finished_by_the_timer(
    service, until, invariant
) -> None:  # type: ignore[no-untyped-def]
    from icr.incentives.domain.rewards import Redemption

    deps = service.deps
    await record_entry(grant("ana", 50, "seed-3"), deps=deps)
    await deps.rewards.put(Reward("mug", {"en": "Mug"}, cost=30, stock=5))
    pending = Redemption("x-1", "ana", "sales", "mug", 30, State.PENDING, datetime.now(UTC))
    await deps.redemptions.add(pending, due_at=datetime.now(UTC))
    assert await deps.accounts.hold("ana", "x-1", 30)  # then the process died

    async def finished() -> bool:
        found = await deps.redemptions.get("x-1")
        return found is not None and found.value.state == State.RESERVED

    await until(finished, timeout=15)
    account = await deps.accounts.get("ana")
    assert (account.balance, account.available, account.reserved) == (20, 20, 0)
    assert (await deps.rewards.get("mug")).stock == 4
    await invariant(service.settings)


async def test_a_settlement_cut_between_paying_and_marking_settled_pays_once_when_rerun(  # type: ignore[no-untyped-def]
    service, flow, until, invariant
) -> None:
    facts = service.deps.facts
    original = facts.save
    cuts = []

    async def cut_once(versioned) -> None:  # type: ignore[no-untyped-def]
        if versioned.value.settled and not cuts:
            cuts.append(versioned.value.request_id)
            # The entries are in the ledger, the round is not marked settled: the handler dies
            # here, and the consumer runs the rating event again from the start.
            raise RuntimeError("cut between paying and marking the round settled")
        await original(versioned)

    facts.save = cut_once
    try:
        f = flow()
        await service.publish(f.submitted(), f.resolved(), f.rated(5))

        async def settled() -> bool:
            found = await facts.get(f.request_id)
            return found is not None and found.value.settled

        await until(settled)
    finally:
        facts.save = original
    assert cuts == [f.request_id]
    assert await service.balance("bo") == 10
    assert await service.balance("dept:it") == 3
    await invariant(service.settings)
