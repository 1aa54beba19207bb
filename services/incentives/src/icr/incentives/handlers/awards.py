"""Reactions to requests and feedback events: the per-request facts, settlement, clawback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from icr.contracts.requests import RequestReopened, RequestResolved, RequestSubmitted
from icr.incentives.domain.ledger import Entry, Kind
from icr.incentives.domain.settlement import (
    RatingOutcome,
    RequestFacts,
    Resolution,
    as_timed_out,
    rater_awards,
    resolution_awards,
    revocations,
)
from icr.incentives.handlers.deps import Deps, retrying
from icr.incentives.handlers.ledger import record_entries, within_caps
from icr.incentives.handlers.ports import Versioned
from icr.kit.outbox import ConcurrentUpdate

log = logging.getLogger(__name__)

Change = Callable[[RequestFacts], bool]


async def change_facts(request_id: str, change: Change, *, deps: Deps) -> Versioned[RequestFacts]:
    """Applies `change` to the request's facts (created if new) and saves them if it changed
    anything; a lost race reloads and applies it again. Returns them as saved."""

    async def attempt() -> Versioned[RequestFacts]:
        known = await deps.facts.get(request_id)
        if known is None:
            facts = RequestFacts(request_id)
            if change(facts):
                await deps.facts.add(facts)
            return Versioned(facts, 1)
        if change(known.value):
            await deps.facts.save(known)
        return known

    return await retrying(deps, attempt)


async def track_request_when_submitted(event: RequestSubmitted, *, deps: Deps) -> None:
    def submitted(facts: RequestFacts) -> bool:
        if facts.submitted_at is not None:
            return False
        facts.requester_id = event.requester_id
        facts.requester_department_id = event.requester_department_id
        facts.provider_department_id = event.provider_department_id
        facts.submitted_at = event.submitted_at
        if facts.status == "unknown":
            facts.status = "submitted"
        return True

    await change_facts(event.request_id, submitted, deps=deps)


async def note_status(request_id: str, status: str, *, deps: Deps) -> None:
    """Closed, cancelled, rejected: shown next to the points; settles nothing."""

    def noted(facts: RequestFacts) -> bool:
        if facts.status == status:
            return False
        facts.status = status
        return True

    await change_facts(request_id, noted, deps=deps)


async def settle_when_resolved(event: RequestResolved, event_id: str, *, deps: Deps) -> None:
    resolution = Resolution(
        event_id=event_id,
        assignee_id=event.assignee_id or event.resolved_by,
        resolution_met=event.resolution_met,
        first_response_met=event.first_response_met,
        resolved_at=event.resolved_at,
    )
    wait = timedelta(days=deps.settings.rating_wait_days)

    def resolved(facts: RequestFacts) -> bool:
        # The resolution event carries the parties too: a request submitted before the
        # service listened is still settled right.
        changed = not facts.requester_id
        facts.requester_id = facts.requester_id or event.requester_id
        facts.requester_department_id = (
            facts.requester_department_id or event.requester_department_id
        )
        facts.provider_department_id = facts.provider_department_id or event.provider_department_id
        due = deps.clock() + wait
        return facts.resolved(resolution, round=event.reopen_count, settle_due=due) or changed

    known = await change_facts(event.request_id, resolved, deps=deps)
    await settle(event.request_id, deps=deps, known=known)


@dataclass(frozen=True)
class RatingGiven:
    """A submitted rating, as the rater's rules need it."""

    request_id: str
    rater_id: str
    rater_department_id: str
    provider_department_id: str
    assignee_id: str | None
    event_id: str
    at: datetime


async def settle_when_rated(
    request_id: str,
    outcome: RatingOutcome,
    *,
    deps: Deps,
    rating: RatingGiven | None = None,
) -> None:
    """A rating submitted, expired or skipped: the outcome the round's rules wait for. `rating`:
    a submitted one, whose rater's point is written with the round's awards.

    Usually the resolution is in and this outcome completes the round: then the round is
    settled on the facts as read, and the outcome is saved with the settled mark in one write
    (a crash before it leaves the facts as they were, and the redelivery settles again, paying
    nothing twice)."""

    def rated(facts: RequestFacts) -> bool:
        return facts.rated(outcome)

    known = await deps.facts.get(request_id)
    if known is not None and rated(known.value) and known.value.ready:
        await settle(request_id, deps=deps, known=known, rating=rating, unsaved=rated)
        return
    known = await change_facts(request_id, rated, deps=deps)
    await settle(request_id, deps=deps, known=known, rating=rating)


async def settle(
    request_id: str,
    *,
    deps: Deps,
    timed_out: bool = False,
    known: Versioned[RequestFacts] | None = None,
    rating: RatingGiven | None = None,
    unsaved: Change | None = None,
) -> None:
    """Pays the current round's resolution awards once every fact is in (or the rating wait
    ran out), then marks the round settled. A crash in between pays nothing twice: each award
    is keyed by (resolution event, rule, account). `known`: the facts as just saved, or with
    the change `unsaved` applied but not saved yet (saved with the mark); `rating`: a rating
    whose rater's point is written with the awards (even if the round does not settle now)."""
    plan = _round_to_settle(known, deps=deps, timed_out=timed_out) if known else None
    if known is None:
        known = await deps.facts.get(request_id)
        plan = _round_to_settle(known, deps=deps, timed_out=timed_out) if known else None
    times = ([] if plan is None else [plan.resolution_at]) + ([] if rating is None else [rating.at])
    policies = await deps.policies.in_effect_many(times) if times else []
    also: list[Entry] = []
    if rating is not None:
        also = rater_awards(**vars(rating), policy=policies[-1])
    if plan is None:
        await record_entries(also, deps=deps)
        return
    assert known is not None
    policy = policies[0]
    awards = await within_caps(resolution_awards(plan.facts, policy), policy, deps=deps)
    await record_entries([*also, *awards], deps=deps)
    settled_round = plan.facts.round

    def settled(current: RequestFacts) -> bool:
        changed = unsaved(current) if unsaved is not None else False
        if current.round != settled_round or current.settled:
            return changed
        current.mark_settled()
        return True

    try:
        # The facts as read: usually still current, so the mark needs no second read.
        known.value.mark_settled()
        await deps.facts.save(known)
        after = known.value
    except ConcurrentUpdate:
        after = (await change_facts(request_id, settled, deps=deps)).value
    if after.round != settled_round:
        # Reopened while this paid: the reopen's clawback may have read the ledger before these
        # awards were in it, so revoke them here (an award is revoked once whoever gets there).
        await revoke_round(after, settled_round, "", "request reopened", deps)
        return
    if after.recovery_needed:
        # Recovery was flagged while this settled: its awards must not stand.
        await revoke_round(after, after.round, after.recovery_event_id, "recovery needed", deps)


@dataclass(frozen=True)
class _Plan:
    facts: RequestFacts
    resolution_at: datetime


def _round_to_settle(
    known: Versioned[RequestFacts], *, deps: Deps, timed_out: bool
) -> _Plan | None:
    """The facts to settle (as of the resolution's time); None if not ready."""
    facts = known.value
    resolution = facts.resolution
    if facts.settled or resolution is None:
        return None
    if not facts.ready:
        if not timed_out:
            return None
        facts = as_timed_out(facts, deps.clock())
    return _Plan(facts, resolution.resolved_at)


async def settle_when_due(request_id: str, *, deps: Deps) -> None:
    """The rating wait ran out (the durable timer): settle as unrated."""
    await settle(request_id, deps=deps, timed_out=True)

    def cleared(facts: RequestFacts) -> bool:
        if facts.settle_due is None:
            return False
        facts.settle_due = None
        return True

    await change_facts(request_id, cleared, deps=deps)


async def withhold_when_recovery_needed(request_id: str, event_id: str, *, deps: Deps) -> None:
    """No points for a request that needed recovery: unsettled, it will pay nothing; settled,
    its awards are revoked."""
    known = await change_facts(request_id, lambda f: f.needs_recovery(event_id), deps=deps)
    facts = known.value
    if facts.settled and facts.recovery_needed:
        await revoke_round(facts, facts.round, facts.recovery_event_id, "recovery needed", deps)


async def claw_back_when_reopened(event: RequestReopened, event_id: str, *, deps: Deps) -> None:
    """Reopening revokes what the ended round's resolution earned (revoking entries)."""
    known = await change_facts(
        event.request_id, lambda facts: facts.reopened(event.reopen_count), deps=deps
    )
    facts = known.value
    await revoke_round(facts, event.reopen_count - 1, event_id, "request reopened", deps)


async def revoke_round(
    facts: RequestFacts, round: int, source_event_id: str, reason: str, deps: Deps
) -> None:
    entries = await deps.ledger.for_request(facts.request_id)
    revoked = {e.revokes for e in entries if e.kind == Kind.REVOKE}
    awards = [e for e in entries if e.round == round and e.id not in revoked]
    at = deps.clock()
    revoking = revocations(awards, source_event_id=source_event_id, reason=reason, at=at)
    for entry in await record_entries(revoking, deps=deps):
        log.info("points revoked", extra={"entry_id": entry.id, "request_id": facts.request_id})
