"""Policy and rewards routes: admins publish policy and manage rewards and fulfilment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from icr.incentives.api.deps import AdminDep, DepsDep, MemberDep, strict_query
from icr.incentives.api.schemas import (
    ID_PATTERN,
    AuditOut,
    CancelIn,
    PolicyIn,
    PolicyOut,
    RedeemIn,
    RedemptionOut,
    RewardIn,
    RewardOut,
    WhatIfIn,
    WhatIfOut,
)
from icr.incentives.domain.errors import Forbidden
from icr.incentives.domain.rewards import State
from icr.incentives.handlers import rewards
from icr.incentives.handlers.policy import publish_policy, what_if
from icr.incentives.handlers.reads import audit_ledger

router = APIRouter(tags=["policy and rewards"])
Id = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/policies", response_model=list[PolicyOut])
async def policies(member: MemberDep, deps: DepsDep) -> list[PolicyOut]:
    """Every version, newest first (version 0 is the built-in default)."""
    return [PolicyOut.of(p) for p in await deps.policies.versions()]


@router.get("/policies/current", response_model=PolicyOut)
async def current_policy(member: MemberDep, deps: DepsDep) -> PolicyOut:
    return PolicyOut.of(await deps.policies.in_effect(deps.clock()))


@router.post("/policies", status_code=201, response_model=PolicyOut)
async def publish(body: PolicyIn, admin: AdminDep, deps: DepsDep) -> PolicyOut:
    """Publish the next version; it applies to facts from `effective_from` on (not before now)."""
    policy = await publish_policy(body.to_domain(body.effective_from), admin=admin, deps=deps)
    return PolicyOut.of(policy)


@router.post("/policies/what-if", response_model=WhatIfOut)
async def policy_what_if(body: WhatIfIn, admin: AdminDep, deps: DepsDep) -> WhatIfOut:
    """What a proposed policy would have paid over a past period, next to what was paid."""
    proposal = body.policy.to_domain(body.from_)
    return WhatIfOut.of(await what_if(proposal, body.from_, body.to, deps=deps))


@router.get("/ledger/audit", response_model=AuditOut)
async def audit(admin: AdminDep, deps: DepsDep) -> AuditOut:
    """The ledger summed per account against every balance (reads the whole ledger: an
    operator's check, not a hot path)."""
    return AuditOut.of(await audit_ledger(deps=deps))


@router.get("/rewards", response_model=list[RewardOut])
async def list_rewards(member: MemberDep, deps: DepsDep) -> list[RewardOut]:
    """The catalog: active rewards, or every reward for an admin."""
    found = await deps.rewards.list(active_only=not member.is_admin)
    return [RewardOut.of(r) for r in found]


@router.put("/rewards/{reward_id}", response_model=RewardOut)
async def put_reward(reward_id: Id, body: RewardIn, admin: AdminDep, deps: DepsDep) -> RewardOut:
    return RewardOut.of(await rewards.put_reward(body.to_domain(reward_id), deps=deps))


@router.post("/redemptions", status_code=201, response_model=RedemptionOut)
async def redeem(body: RedeemIn, member: MemberDep, deps: DepsDep) -> RedemptionOut:
    """Spend points on a reward: 409 insufficient_points or out_of_stock, and nothing held."""
    return RedemptionOut.of(await rewards.redeem(body.reward_id, member=member, deps=deps))


@router.get(
    "/redemptions",
    response_model=list[RedemptionOut],
    dependencies=[Depends(strict_query("person_id", "state", "limit"))],
)
async def list_redemptions(
    member: MemberDep,
    deps: DepsDep,
    person_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[RedemptionOut]:
    """One's own redemptions; an admin's view of anyone's (e.g. every `reserved` one)."""
    if not member.is_admin:
        if person_id not in (None, member.person_id):
            raise Forbidden("only an admin sees other people's redemptions")
        person_id = member.person_id
    found = await deps.redemptions.list(person_id=person_id, state=state, limit=limit)
    return [RedemptionOut.of(r) for r in found]


@router.post("/redemptions/{redemption_id}/fulfil", response_model=RedemptionOut)
async def fulfil(redemption_id: Id, admin: AdminDep, deps: DepsDep) -> RedemptionOut:
    done = await rewards.fulfil_redemption(redemption_id, admin=admin, deps=deps)
    return RedemptionOut.of(done)


@router.post("/redemptions/{redemption_id}/cancel", response_model=RedemptionOut)
async def cancel(
    redemption_id: Id, body: CancelIn, admin: AdminDep, deps: DepsDep
) -> RedemptionOut:
    """Cancel: the points are refunded (a ledger entry) and the unit goes back to stock."""
    done = await rewards.cancel_redemption(redemption_id, body.reason, admin=admin, deps=deps)
    return RedemptionOut.of(done)
