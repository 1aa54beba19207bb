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
