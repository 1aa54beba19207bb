"""Invitations to rate, from the requests service's resolutions, and their durable timers."""

from __future__ import annotations

import logging
from datetime import datetime

from icr.feedback.domain.errors import Conflict
from icr.feedback.domain.policy import SkipReason, pre_cap_skip
from icr.feedback.domain.rating import Rating, Resolution
from icr.feedback.handlers.deps import Deps, retrying
from icr.kit.periods import period_key

log = logging.getLogger(__name__)


async def _decide(r: Resolution, deps: Deps) -> SkipReason | None:
    """Why this resolution gets no invitation, or None to invite (using a place of the cap)."""
    policy = deps.policy
    reason = pre_cap_skip(
        request_id=r.request_id,
        requester_department_id=r.requester_department_id,
        provider_department_id=r.provider_department_id,
        rate=policy.sample_rate,
    )
    if reason is not None:
        return reason
    key = period_key(policy.cap_period, r.resolved_at)
    fits = await deps.caps.take(r.requester_id, key, r.request_id, policy.invitation_cap)
    return None if fits else SkipReason.FATIGUE_CAP


async def invite_when_request_resolved(r: Resolution, *, deps: Deps) -> Rating | None:
    """Invites the requester, or records why not; a redelivered resolution changes nothing."""
    if r.requester_department_id != r.provider_department_id:
        # Served by another department: a campaign about it may invite this person.
        await deps.served.record(
            request_id=r.request_id,
            requester_id=r.requester_id,
            requester_department_id=r.requester_department_id,
            provider_department_id=r.provider_department_id,
            resolved_at=r.resolved_at,
        )

    async def attempt() -> Rating | None:
        loaded = await deps.ratings.get(r.request_id)
        if loaded is None:
            skip = await _decide(r, deps)
            rating = Rating.decide(r, deps.policy, skip)
            try:
                await deps.ratings.add(rating)
            except Conflict:
                return None  # added by a concurrent delivery: decided there
            return rating
        rating = loaded.value
        if not rating.is_new_round(r):
            return None
        skip = await _decide(r, deps) if rating.needs_decision() else None
        rating.next_round(r, deps.policy, skip)
        await deps.ratings.save(loaded)
        return rating

    rating = await retrying(deps, attempt)
    if rating is not None:
        log.info(
            "rating invitation decided",
            extra={"request_id": r.request_id, "status": rating.status.value},
        )
    return rating


async def remind_or_expire_when_due(request_id: str, now: datetime, *, deps: Deps) -> None:
    """The rating's timer: the reminder, then the expiry. Always saved, which moves the timer."""

    async def attempt() -> None:
        loaded = await deps.ratings.get(request_id)
        if loaded is None:
            return
        loaded.value.on_due(now)
        await deps.ratings.save(loaded)

    await retrying(deps, attempt)


async def link_recovery_outcome(
    recovery_request_id: str, *, by: str, at: datetime, deps: Deps
) -> bool:
    """Records the resolution of a recovery request on the rating that caused it; False when
    the request is no recovery request of ours (or the outcome is linked already)."""

    async def attempt() -> bool:
        loaded = await deps.ratings.by_recovery_request(recovery_request_id)
        if loaded is None:
            return False
        linked = loaded.value.recovery_resolved(by=by, at=at)
        if linked:
            await deps.ratings.save(loaded)
        return True

    return await retrying(deps, attempt)
