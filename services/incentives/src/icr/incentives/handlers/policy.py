"""Publishing a points policy version, and the what-if report of a proposed one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from icr.incentives.domain.errors import InvalidInput
from icr.incentives.domain.policy import Policy, check_effective_from
from icr.incentives.domain.whatif import Report, compare
from icr.incentives.handlers.deps import Deps
from icr.kit.directory import Member

MAX_WHAT_IF_DAYS = 366


async def publish_policy(proposal: Policy, *, admin: Member, deps: Deps) -> Policy:
    """The next version, from its effective time on (never retroactive). Two admins publishing
    at once: one gets the version, the other a conflict."""
    proposal.check()
    latest = await deps.policies.latest()
    now = deps.clock()
    check_effective_from(proposal.effective_from, now=now, latest=latest)
    policy = replace(
        proposal, version=latest.version + 1, published_by=admin.person_id, published_at=now
    )
    await deps.policies.publish(policy)
    return policy


async def what_if(proposal: Policy, start: datetime, end: datetime, *, deps: Deps) -> Report:
    """What `proposal` would have paid for the requests resolved in [start, end), next to what
    was paid for them; reads only."""
    proposal.check()
    if end <= start:
        raise InvalidInput.one("to", "before_from", "the period must end after it starts")
    if (end - start).days > MAX_WHAT_IF_DAYS:
        raise InvalidInput.one("to", "too_long", f"at most {MAX_WHAT_IF_DAYS} days at once")
    facts = await deps.facts.resolved_between(start, end)
    ids = {f.request_id for f in facts}
    awarded = [
        e for e in await deps.ledger.request_entries_between(start, end) if e.request_id in ids
    ]
    return compare(facts, proposal, awarded)
