"""SLA timer handling on the fakes: what a due timer records, that it records it once, that the
timer moves on, and that an unconfirmed resolution closes itself (the scheduling itself, with
leases on the real store, is tested in tests/integration/test_req_sla_scheduler.py)."""

from __future__ import annotations

from datetime import timedelta

from icr.contracts.requests import RequestClosed, SlaBreached, SlaWarning
from icr.requests.domain import Status
from icr.requests.handlers import lifecycle
from icr.requests.handlers.sla import check_sla_when_due, close_when_unconfirmed
from icr.requests.store.request_codec import AUTO_CLOSE_DUE, SLA_DUE

# Laptop: first response within 1 h, resolution within 8 h, a warning with a quarter left.


async def test_a_warning_is_recorded_once_and_the_timer_moves_on(world) -> None:
    rid = await world.submit()
    submitted = world.clock()
    assert world.stores.requests.docs[rid][SLA_DUE] <= submitted + timedelta(minutes=45, seconds=1)
    now = submitted + timedelta(minutes=50)
    [warning] = await check_sla_when_due(rid, now, deps=world.deps)
    assert isinstance(warning, SlaWarning)
    assert (warning.clock, warning.due_at) == ("first_response", submitted + timedelta(hours=1))
    assert world.outbox.of(rid)[-1] == warning  # recorded with the state, not merely returned
    assert (await world.stores.requests.get(rid)).value.first_response.warned_at == now
    assert world.stores.requests.docs[rid][SLA_DUE] > now

    assert await check_sla_when_due(rid, now, deps=world.deps) == []  # a timer run twice
    assert [type(e) for e in world.outbox.of(rid)].count(SlaWarning) == 1


async def test_a_breach_is_recorded_when_the_due_time_has_passed(world) -> None:
    rid = await world.submit()
    now = world.clock() + timedelta(hours=2)
    events = await check_sla_when_due(rid, now, deps=world.deps)
    assert [(type(e), e.clock) for e in events] == [(SlaBreached, "first_response")]
    stored = (await world.stores.requests.get(rid)).value
    assert stored.first_response.breached_at == now
    assert world.stores.requests.docs[rid]["breached"] is True


async def test_nothing_is_due_for_a_request_answered_in_time(world) -> None:
    rid = await world.submit()
    world.later(minutes=10)
    await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    assert await check_sla_when_due(rid, world.clock() + timedelta(hours=1), deps=world.deps) == []


async def test_a_timer_for_a_request_that_is_gone_does_nothing(world) -> None:
    assert await check_sla_when_due("gone", world.clock(), deps=world.deps) == []
    assert await close_when_unconfirmed("gone", world.clock(), deps=world.deps) is False
    assert world.outbox.events == []


async def test_a_check_that_loses_a_race_keeps_the_winners_change(world) -> None:
    rid = await world.submit()

    async def agent_comments() -> None:
        await lifecycle.comment(rid, "looking", actor=world.actor("ana"), deps=world.deps)

    world.stores.requests.interleave(agent_comments)
    [warning] = await check_sla_when_due(
        rid, world.clock() + timedelta(minutes=50), deps=world.deps
    )
    stored = (await world.stores.requests.get(rid)).value
    assert [c.body for c in stored.comments] == ["looking"]
    assert stored.first_response.warned_at is not None
    assert isinstance(warning, SlaWarning)


async def _resolved(world) -> str:
    rid = await world.submit()
    bo = world.actor("bo")
    await lifecycle.accept(rid, actor=bo, deps=world.deps)
    await lifecycle.resolve(rid, "done", actor=bo, deps=world.deps)
    return rid


async def test_an_unconfirmed_resolution_closes_itself_after_the_delay(world) -> None:
    rid = await _resolved(world)
    resolved_at = world.clock()
    due = resolved_at + timedelta(days=5)
    assert world.stores.requests.docs[rid][AUTO_CLOSE_DUE] == due

    assert await close_when_unconfirmed(rid, due - timedelta(minutes=1), deps=world.deps) is False
    assert (await world.stores.requests.get(rid)).value.status is Status.RESOLVED

    assert await close_when_unconfirmed(rid, due, deps=world.deps) is True
    stored = (await world.stores.requests.get(rid)).value
    assert stored.status is Status.CLOSED
    closed = [e for e in world.outbox.of(rid) if isinstance(e, RequestClosed)]
    assert [(e.automatic, e.closed_at) for e in closed] == [(True, due)]
    assert world.stores.requests.docs[rid][AUTO_CLOSE_DUE] is None  # never fires again


async def test_a_stale_close_timer_on_a_reopened_request_closes_nothing(world) -> None:
    rid = await _resolved(world)
    due = world.clock() + timedelta(days=5)
    world.later(days=1)
    await lifecycle.reopen(rid, "still broken", actor=world.actor("ana"), deps=world.deps)
    assert await close_when_unconfirmed(rid, due, deps=world.deps) is False
    assert (await world.stores.requests.get(rid)).value.status is Status.IN_PROGRESS
    assert world.stores.requests.docs[rid][AUTO_CLOSE_DUE] is None


async def test_closing_a_child_automatically_updates_its_parent(world) -> None:
    parent = await world.submit()
    await lifecycle.accept(parent, actor=world.actor("bo"), deps=world.deps)
    child = await world.submit("bo", parent_id=parent)
    await lifecycle.accept(child, actor=world.actor("cy"), deps=world.deps)
    await lifecycle.resolve(child, "done", actor=world.actor("cy"), deps=world.deps)
    assert await close_when_unconfirmed(child, world.clock() + timedelta(days=5), deps=world.deps)
    assert (await world.stores.requests.get(parent)).value.children == {child: Status.CLOSED}
