"""Settlement on fakes: the domain brief's flow, redelivery, clawback, recovery, caps, versions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from icr.contracts.incentives import PointsAwarded, PointsRevoked
from icr.incentives.domain.ledger import Kind
from icr.incentives.domain.policy import DEFAULT_POLICY, Conditions, Payee, Rule, Trigger
from icr.incentives.domain.settlement import RatingOutcome
from icr.incentives.handlers import awards
from icr.incentives.handlers.policy import publish_policy
from icr.kit.directory import Member

ADMIN = Member("root", "", frozenset({"admin"}))


async def test_resolved_in_time_and_rated_five_pays_agent_team_and_rater(world) -> None:  # type: ignore[no-untyped-def]
    await world.submit("r1")
    await world.resolve("r1")
    assert world.entries() == []  # waits for the rating
    await world.rate("r1", 5)
    assert await world.balance("bo") == 10
    assert await world.balance("dept:it") == 3
    assert await world.balance("ana") == 1
    assert len(world.fakes.outbox.of(PointsAwarded)) == 3
    top = await world.deps.boards.top("people", "all", 10)
    assert [(line.subject_id, line.points) for line in top] == [("bo", 10), ("ana", 1)]


async def test_redelivered_events_pay_nothing_twice(world) -> None:  # type: ignore[no-untyped-def]
    await world.submit("r1")
    resolved = await world.resolve("r1")
    rated = await world.rate("r1", 5)
    for _ in range(3):
        await world.resolve("r1", event_id=resolved)
        await world.rate("r1", 5, event_id=rated)
    assert sorted(e.amount for e in world.entries()) == [1, 3, 10]
    assert await world.balance("bo") == 10


async def test_reopening_claws_back_with_revoking_entries(world) -> None:  # type: ignore[no-untyped-def]
    await world.submit("r1")
    await world.resolve("r1")
    await world.rate("r1", 5)
    reopened = await world.reopen("r1", 1)
    await world.reopen("r1", 1, event_id=reopened)  # redelivered: revokes once
    revoking = [e for e in world.entries() if e.kind == Kind.REVOKE]
    assert sorted((e.account, e.amount) for e in revoking) == [("bo", -10), ("dept:it", -3)]
    assert await world.balance("bo") == 0
    assert await world.balance("ana") == 1  # feedback points stay
    assert len(world.fakes.outbox.of(PointsRevoked)) == 2
    # The next round earns again once it is rated.
    await world.resolve("r1", round=1)
    await world.rate("r1", 4)
    assert await world.balance("bo") == 10


async def test_recovery_after_settlement_revokes_and_before_it_pays_nothing(world) -> None:  # type: ignore[no-untyped-def]
    await world.submit("r1")
    await world.resolve("r1")
    await world.rate("r1", 5)
    await awards.withhold_when_recovery_needed("r1", "rec-1", deps=world.deps)
    assert await world.balance("bo") == 0

    await world.submit("r2")
    await awards.withhold_when_recovery_needed("r2", "rec-2", deps=world.deps)
    await world.resolve("r2")
    await world.rate("r2", 5)
    assert [e for e in world.entries("bo") if e.request_id == "r2"] == []


async def test_an_expired_rating_settles_rules_without_stars(world) -> None:  # type: ignore[no-untyped-def]
    extra = Rule("sla-only", Trigger.RESOLUTION, Payee.ASSIGNEE, 2, Conditions(sla_met=True))
    world.fakes.policies.by_version[1] = replace(
        DEFAULT_POLICY, version=1, rules=(*DEFAULT_POLICY.rules, extra)
    )
    await world.submit("r1")
    await world.resolve("r1")
    outcome = RatingOutcome("expired", None, "exp-1", world.clock())
    await awards.settle_when_rated("r1", outcome, deps=world.deps)
    assert [(e.rule_id, e.amount, e.policy_version) for e in world.entries()] == [
        ("sla-only", 2, 1)
    ]


async def test_the_timer_settles_a_resolution_whose_rating_never_came(world) -> None:  # type: ignore[no-untyped-def]
    await world.submit("r1")
    await world.resolve("r1")
    facts = (await world.deps.facts.get("r1")).value
    assert facts.settle_due is not None
    world.later(days=11)
    await awards.settle_when_due("r1", deps=world.deps)
    after = (await world.deps.facts.get("r1")).value
    assert after.settled
    assert after.settle_due is None
    assert world.entries() == []  # the default rules need 4 stars


async def test_nobody_earns_from_their_own_request(world) -> None:  # type: ignore[no-untyped-def]
    await world.submit("r1", requester="bo", dept="it")
    await world.resolve("r1", requester="bo", dept="it")
    await world.rate("r1", 5)
    assert [e for e in world.entries() if e.trigger == "resolution"] == []


async def test_department_pair_cap_per_month(world) -> None:  # type: ignore[no-untyped-def]
    world.fakes.policies.by_version[1] = replace(DEFAULT_POLICY, version=1, pair_cap_per_month=26)
    for n in range(4):
        await world.submit(f"r{n}")
        await world.resolve(f"r{n}")
        await world.rate(f"r{n}", 5)
    assert await world.balance("bo") + await world.balance("dept:it") == 26
    world.later(days=31)  # a new month, a new cap
    await world.submit("r9")
    await world.resolve("r9")
    await world.rate("r9", 5)
    assert await world.balance("bo") == 30


async def test_a_new_policy_applies_from_its_effective_time_not_to_earlier_facts(world) -> None:  # type: ignore[no-untyped-def]
    await world.submit("r1")
    await world.resolve("r1")  # resolved under version 0
    richer = replace(
        DEFAULT_POLICY,
        effective_from=world.clock() + timedelta(hours=1),
        rules=(Rule("big", Trigger.RESOLUTION, Payee.ASSIGNEE, 100, Conditions(sla_met=True)),),
    )
    published = await publish_policy(richer, admin=ADMIN, deps=world.deps)
    assert published.version == 1
    world.later(hours=2)
    await world.rate("r1", 5)  # settles now, but decided by the version of the resolution
    assert await world.balance("bo") == 10
    await world.submit("r2")
    await world.resolve("r2")
    await world.rate("r2", 1)
    assert [e.policy_version for e in world.entries("bo") if e.request_id == "r2"] == [1]
