"""The what-if report over stored facts writes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from icr.incentives.domain.policy import DEFAULT_POLICY, Conditions, Payee, Rule, Trigger
from icr.incentives.handlers.policy import what_if


async def test_what_if_reports_next_to_what_was_awarded_and_writes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    start = world.clock()
    for n, stars in enumerate([5, 2, 4]):
        await world.submit(f"r{n}")
        await world.resolve(f"r{n}")
        await world.rate(f"r{n}", stars)
    before = dict(world.fakes.ledger.entries)
    events = len(world.fakes.outbox.events)
    proposal = replace(
        DEFAULT_POLICY,
        rules=(Rule("any", Trigger.RESOLUTION, Payee.ASSIGNEE, 5, Conditions(sla_met=True)),),
    )
    report = await what_if(proposal, start, start + timedelta(days=1), deps=world.deps)
    assert report.requests == 3
    bo = next(line for line in report.people if line.subject_id == "bo")
    assert (bo.awarded, bo.proposed) == (20, 15)
    ana = next(line for line in report.people if line.subject_id == "ana")
    assert (ana.awarded, ana.proposed) == (3, 0)
    assert world.fakes.ledger.entries == before
    assert len(world.fakes.outbox.events) == events


async def test_the_audit_sums_the_ledger_against_every_balance(world) -> None:  # type: ignore[no-untyped-def]
    from icr.incentives.handlers.reads import audit_ledger

    await world.submit("r1")
    await world.resolve("r1")
    await world.rate("r1", 5)
    clean = await audit_ledger(deps=world.deps)
    assert (clean.accounts, clean.ledger_total, clean.uncounted, clean.drift) == (3, 14, 0, [])
    world.fakes.accounts.docs["bo"]["balance"] += 1  # a balance drifts from the ledger
    [drift] = (await audit_ledger(deps=world.deps)).drift
    assert (drift.account, drift.ledger, drift.balance) == ("bo", 10, 11)
