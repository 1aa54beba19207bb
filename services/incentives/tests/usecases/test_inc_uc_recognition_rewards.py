"""Recognition and redemptions on fakes: allowance, credit from the event, holds and refunds."""

from __future__ import annotations

import pytest

from icr.contracts.incentives import (
    RecognitionGiven,
    RedemptionCancelled,
    RedemptionFulfilled,
    RewardRedeemed,
)
from icr.incentives.domain.errors import (
    AllowanceExceeded,
    InsufficientPoints,
    InvalidInput,
    OutOfStock,
)
from icr.incentives.domain.ledger import Entry, Kind
from icr.incentives.domain.rewards import Reward, State
from icr.incentives.handlers.ledger import record_entry
from icr.incentives.handlers.recognition import (
    Recognition,
    allowance_of,
    credit_recognition_when_given,
    give_recognition,
)
from icr.incentives.handlers.rewards import (
    advance_redemption,
    cancel_redemption,
    fulfil_redemption,
    redeem,
)
from icr.kit.directory import Member

ANA = Member("ana", "sales", frozenset({"employee"}))
ADMIN = Member("root", "", frozenset({"admin"}))
WHY = "Bo fixed the VPN in ten minutes, thank you!"


async def grant(world, account: str, amount: int) -> None:  # type: ignore[no-untyped-def]
    await record_entry(
        Entry(
            account, "sales", amount, Kind.AWARD, "seed", f"seed-{amount}", "seed", 0, world.clock()
        ),
        deps=world.deps,
    )


async def test_recognition_takes_the_allowance_and_credits_the_recipient_once(world) -> None:  # type: ignore[no-untyped-def]
    _gift, allowance = await give_recognition(
        Recognition("bo", 30, WHY, "customer_first"), giver=ANA, deps=world.deps
    )
    assert allowance.left == 70
    [given] = world.fakes.outbox.of(RecognitionGiven)
    for _ in range(2):
        await credit_recognition_when_given(given, "ev-given", deps=world.deps)
    assert await world.balance("bo") == 30
    assert (await allowance_of(ANA, deps=world.deps)).left == 70


async def test_recognition_above_the_allowance_is_refused_and_writes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AllowanceExceeded):
        await give_recognition(Recognition("bo", 101, WHY, "teamwork"), giver=ANA, deps=world.deps)
    with pytest.raises(InvalidInput):
        await give_recognition(Recognition("ana", 5, WHY, "teamwork"), giver=ANA, deps=world.deps)
    assert world.fakes.outbox.of(RecognitionGiven) == []


async def test_the_allowance_resets_next_month_without_rollover(world) -> None:  # type: ignore[no-untyped-def]
    await give_recognition(Recognition("bo", 10, WHY, "teamwork"), giver=ANA, deps=world.deps)
    world.later(days=31)
    assert (await allowance_of(ANA, deps=world.deps)).left == 100


async def test_redemption_spends_and_cancel_refunds_and_restocks(world) -> None:  # type: ignore[no-untyped-def]
    await grant(world, "ana", 80)
    await world.deps.rewards.put(Reward("mug", {"en": "Mug"}, 30, 1))
    r = await redeem("mug", member=ANA, deps=world.deps)
    assert r.state == State.RESERVED
    assert await world.balance("ana") == 50
    with pytest.raises(OutOfStock):
        await redeem("mug", member=ANA, deps=world.deps)
    account = await world.deps.accounts.get("ana")
    assert (account.available, account.reserved) == (50, 0)  # type: ignore[union-attr]
    cancelled = await cancel_redemption(r.redemption_id, "no mugs", admin=ADMIN, deps=world.deps)
    assert cancelled.state == State.CANCELLED
    assert await world.balance("ana") == 80
    assert (await world.deps.rewards.get("mug")).stock == 1  # type: ignore[union-attr]
    assert len(world.fakes.outbox.of(RewardRedeemed)) == 1
    assert len(world.fakes.outbox.of(RedemptionCancelled)) == 1


async def test_redeeming_beyond_the_balance_holds_nothing(world) -> None:  # type: ignore[no-untyped-def]
    await grant(world, "ana", 10)
    await world.deps.rewards.put(Reward("mug", {"en": "Mug"}, 30, 5))
    with pytest.raises(InsufficientPoints):
        await redeem("mug", member=ANA, deps=world.deps)
    account = await world.deps.accounts.get("ana")
    assert (account.balance, account.reserved) == (10, 0)  # type: ignore[union-attr]
    assert (await world.deps.rewards.get("mug")).stock == 5  # type: ignore[union-attr]


async def test_fulfilment_keeps_the_points_spent(world) -> None:  # type: ignore[no-untyped-def]
    await grant(world, "ana", 30)
    await world.deps.rewards.put(Reward("mug", {"en": "Mug"}, 30, 5))
    r = await redeem("mug", member=ANA, deps=world.deps)
    done = await fulfil_redemption(r.redemption_id, admin=ADMIN, deps=world.deps)
    assert done.state == State.FULFILLED
    assert done.settled
    assert await world.balance("ana") == 0
    assert len(world.fakes.outbox.of(RedemptionFulfilled)) == 1


async def test_a_redemption_interrupted_after_its_holds_is_finished_once(world) -> None:  # type: ignore[no-untyped-def]
    await grant(world, "ana", 60)
    await world.deps.rewards.put(Reward("mug", {"en": "Mug"}, 30, 5))
    from icr.incentives.domain.rewards import Redemption

    r = Redemption("x1", "ana", "sales", "mug", 30, State.PENDING, world.clock())
    await world.deps.redemptions.add(r, due_at=world.clock())
    # The process took both holds, then died before the debit.
    assert await world.deps.accounts.hold("ana", "x1", 30)
    assert await world.deps.rewards.take_stock("mug", "x1")
    for _ in range(2):  # the timer, then a second run
        done = await advance_redemption("x1", deps=world.deps)
    assert done.state == State.RESERVED
    account = await world.deps.accounts.get("ana")
    assert (account.balance, account.available, account.reserved) == (30, 30, 0)  # type: ignore[union-attr]
    assert (await world.deps.rewards.get("mug")).stock == 4  # type: ignore[union-attr]
