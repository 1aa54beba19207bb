"""The reward catalog and redemptions: reserve, spend, fulfil or cancel (refund)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from icr.contracts import new_id
from icr.incentives.domain.errors import InsufficientPoints, NotFound, OutOfStock
from icr.incentives.domain.rewards import Redemption, Reward, State
from icr.incentives.handlers.deps import Deps, retrying
from icr.incentives.handlers.ledger import record_entry
from icr.incentives.handlers.ports import Versioned
from icr.kit.directory import Member

log = logging.getLogger(__name__)


async def put_reward(reward: Reward, *, deps: Deps) -> Reward:
    await deps.rewards.put(reward)
    return reward


async def redeem(reward_id: str, *, member: Member, deps: Deps) -> Redemption:
    """Reserves the points and one unit of stock, then spends the points; a typed error (and
    nothing held) when the balance or the stock does not cover it."""
    reward = await deps.rewards.get(reward_id)
    if reward is None or not reward.active:
        raise NotFound(f"no active reward {reward_id!r}")
    now = deps.clock()
    redemption = Redemption(
        redemption_id=new_id(),
        person_id=member.person_id,
        department_id=member.department_id,
        reward_id=reward.reward_id,
        cost=reward.cost,
        state=State.PENDING,
        requested_at=now,
    )
    await deps.redemptions.add(redemption, due_at=_grace(deps))
    # Lost to the timer of another replica (this one stalled)? Each step is idempotent: run
    # again, it reads what the other did and answers with it rather than a conflict.
    done = await retrying(deps, lambda: advance_redemption(redemption.redemption_id, deps=deps))
    if done.state == State.REJECTED:
        if done.reason == "insufficient_points":
            raise InsufficientPoints(f"{reward.cost} points needed; not enough available")
        raise OutOfStock(f"{reward.reward_id!r} is out of stock")
    return done


async def advance_redemption(redemption_id: str, *, deps: Deps) -> Redemption:
    """Does what is left of a redemption; every step is idempotent by its id, so the timer
    finishes one a crash interrupted, and a second run changes nothing."""
    known = await deps.redemptions.get(redemption_id)
    if known is None:
        raise NotFound(f"no redemption {redemption_id!r}")
    r = known.value
    if r.state == State.PENDING:
        debit = r.debit()
        # A debit in the ledger means both holds were taken before it was written.
        if await deps.ledger.get(debit.id) is None:
            if not await deps.accounts.hold(r.person_id, r.redemption_id, r.cost):
                r.rejected("insufficient_points")
                await deps.redemptions.save(known, due_at=None)
                return r
            if not await deps.rewards.take_stock(r.reward_id, r.redemption_id):
                await deps.accounts.release(r.person_id, r.redemption_id, r.cost)
                r.rejected("out_of_stock")
                await deps.redemptions.save(known, due_at=None)
                return r
            await record_entry(debit, deps=deps)
        r.reserved()
        await deps.redemptions.save(known, due_at=None)
    elif r.state == State.CANCELLED and not r.settled:
        await record_entry(r.refund(), deps=deps)
        await deps.rewards.release_stock(r.reward_id, r.redemption_id, restock=True)
        r.settled = True
        await deps.redemptions.save(known, due_at=None)
    elif r.state == State.FULFILLED and not r.settled:
        await deps.rewards.release_stock(r.reward_id, r.redemption_id, restock=False)
        r.settled = True
        await deps.redemptions.save(known, due_at=None)
    else:
        # Nothing left to do (the timer found a finished one): clear its due time.
        await deps.redemptions.save(known, due_at=None)
    return r


async def fulfil_redemption(redemption_id: str, *, admin: Member, deps: Deps) -> Redemption:
    async def attempt() -> None:
        known = await _get(redemption_id, deps)
        known.value.fulfil(by=admin.person_id, at=deps.clock())
        await deps.redemptions.save(known, due_at=_grace(deps))

    await retrying(deps, attempt)
    return await advance_redemption(redemption_id, deps=deps)


async def cancel_redemption(
    redemption_id: str, reason: str, *, admin: Member, deps: Deps
) -> Redemption:
    """Cancels with its event first; the refund and the stock follow, idempotently."""

    async def attempt() -> None:
        known = await _get(redemption_id, deps)
        known.value.cancel(by=admin.person_id, at=deps.clock(), reason=reason)
        await deps.redemptions.save(known, due_at=_grace(deps))

    await retrying(deps, attempt)
    return await advance_redemption(redemption_id, deps=deps)


async def _get(redemption_id: str, deps: Deps) -> Versioned[Redemption]:
    known = await deps.redemptions.get(redemption_id)
    if known is None:
        raise NotFound(f"no redemption {redemption_id!r}")
    return known


def _grace(deps: Deps) -> datetime:
    return deps.clock() + timedelta(seconds=deps.settings.redemption_grace_seconds)
