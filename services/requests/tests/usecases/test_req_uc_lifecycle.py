"""Lifecycle use cases on the fakes: each action loads, authorizes, decides, saves, and records
its events with the state; a lost race reloads and decides again; nothing is written on refusal."""

from __future__ import annotations

import pytest

from icr.kit.outbox import ConcurrentUpdate
from icr.requests.domain import (
    Conflict,
    Forbidden,
    FormInvalid,
    IllegalTransition,
    NotFound,
    Status,
)
from icr.requests.handlers import lifecycle

SUBMITTED = "requests.request.submitted"
STATUS = "requests.request.status_changed"


async def test_the_happy_path_records_each_step_with_its_state(world) -> None:
    rid = await world.submit()
    bo, ana = world.actor("bo"), world.actor("ana")
    world.later(minutes=10)
    view = await lifecycle.accept(rid, actor=bo, deps=world.deps)
    assert view.request.status is Status.ACCEPTED
    await lifecycle.assign(rid, "cy", actor=bo, deps=world.deps)
    await lifecycle.start_work(rid, actor=world.actor("cy"), deps=world.deps)
    world.later(hours=2)
    await lifecycle.resolve(rid, "Delivered", actor=world.actor("cy"), deps=world.deps)
    view = await lifecycle.close(rid, actor=ana, deps=world.deps)

    stored = await world.stores.requests.get(rid)
    assert stored.value.status is Status.CLOSED
    assert stored.value.assignee_id == "cy"
    assert stored.version == 6  # one write per action
    assert world.types(rid) == [
        SUBMITTED,
        "requests.request.accepted",
        STATUS,
        "requests.request.assigned",
        STATUS,
        "requests.request.resolved",
        STATUS,
        "requests.request.closed",
        STATUS,
    ]
    assert view.request.status is Status.CLOSED
    assert view.actions == []  # closed is final


async def test_an_outsider_cannot_tell_the_request_exists(world) -> None:
    rid = await world.submit()
    with pytest.raises(NotFound):
        await lifecycle.accept(rid, actor=world.actor("eve"), deps=world.deps)
    with pytest.raises(NotFound):
        await lifecycle.accept("no-such-request", actor=world.actor("bo"), deps=world.deps)
    assert world.types(rid) == [SUBMITTED]


async def test_the_requester_may_not_act_for_the_provider(world) -> None:
    rid = await world.submit()
    with pytest.raises(Forbidden):
        await lifecycle.accept(rid, actor=world.actor("ana"), deps=world.deps)
    assert (await world.stores.requests.get(rid)).version == 1
    assert world.types(rid) == [SUBMITTED]


async def test_an_illegal_transition_writes_nothing(world) -> None:
    rid = await world.submit()
    with pytest.raises(IllegalTransition):
        await lifecycle.resolve(rid, "done", actor=world.actor("bo"), deps=world.deps)
    assert world.types(rid) == [SUBMITTED]


@pytest.mark.parametrize(
    ("assignee", "code"),
    [("nobody", "unknown"), ("ana", "not_an_agent"), ("lee", "not_an_agent")],
    ids=["unknown", "requester", "other-department"],
)
async def test_only_an_agent_of_the_provider_can_be_assigned(world, assignee, code) -> None:
    rid = await world.submit()
    await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    with pytest.raises(FormInvalid) as refused:
        await lifecycle.assign(rid, assignee, actor=world.actor("bo"), deps=world.deps)
    assert [(e.field, e.code) for e in refused.value.errors] == [("assignee_id", code)]
    assert (await world.stores.requests.get(rid)).value.assignee_id is None


async def test_reject_and_cancel_end_the_request_with_their_reason(world) -> None:
    rejected, cancelled = await world.submit(), await world.submit()
    await lifecycle.reject(rejected, "Not our service", actor=world.actor("bo"), deps=world.deps)
    await lifecycle.cancel(cancelled, "Found one", actor=world.actor("ana"), deps=world.deps)
    assert (await world.stores.requests.get(rejected)).value.status is Status.REJECTED
    assert (await world.stores.requests.get(cancelled)).value.reason == "Found one"
    assert world.types(rejected) == [SUBMITTED, "requests.request.rejected", STATUS]
    assert world.types(cancelled) == [SUBMITTED, "requests.request.cancelled", STATUS]
    with pytest.raises(Forbidden):  # only the requester's side cancels
        await lifecycle.cancel(rejected, "again", actor=world.actor("bo"), deps=world.deps)


async def test_a_provider_comment_is_the_first_response(world) -> None:
    rid = await world.submit()
    world.later(minutes=20)
    await lifecycle.comment(rid, "On it", actor=world.actor("bo"), deps=world.deps)
    stored = (await world.stores.requests.get(rid)).value
    assert stored.first_response.stopped_at == world.clock()
    assert [c.body for c in stored.comments] == ["On it"]
    assert "requests.request.commented" in world.types(rid)


async def test_the_requesters_comment_does_not_stop_the_first_response_clock(world) -> None:
    rid = await world.submit()
    await lifecycle.comment(rid, "Any news?", actor=world.actor("ana"), deps=world.deps)
    assert (await world.stores.requests.get(rid)).value.first_response.stopped_at is None


async def test_internal_notes_are_hidden_from_the_requester(world) -> None:
    rid = await world.submit()
    await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    view = await lifecycle.add_note(rid, "vendor B", actor=world.actor("bo"), deps=world.deps)
    assert view.notes_visible
    with pytest.raises(Forbidden):
        await lifecycle.add_note(rid, "me too", actor=world.actor("ana"), deps=world.deps)


async def test_the_comment_limit_is_a_conflict_not_a_write(make_world) -> None:
    world = await make_world(max_comments_per_request=2)
    rid = await world.submit()
    for body in ("one", "two"):
        await lifecycle.comment(rid, body, actor=world.actor("ana"), deps=world.deps)
    version = (await world.stores.requests.get(rid)).version
    with pytest.raises(Conflict, match="comment limit"):
        await lifecycle.comment(rid, "three", actor=world.actor("ana"), deps=world.deps)
    assert (await world.stores.requests.get(rid)).version == version


async def test_waiting_on_the_requester_pauses_and_a_reply_resumes(world) -> None:
    rid = await world.submit()
    await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    await lifecycle.ask_requester(rid, "Which layout?", actor=world.actor("bo"), deps=world.deps)
    assert (await world.stores.requests.get(rid)).value.status is Status.WAITING_ON_REQUESTER
    world.later(hours=1)
    await lifecycle.reply(rid, "US", actor=world.actor("ana"), deps=world.deps)
    stored = (await world.stores.requests.get(rid)).value
    assert stored.status is Status.IN_PROGRESS
    assert stored.resolution.pauses[-1].end == world.clock()
    assert "requests.request.waiting" in world.types(rid)
    assert "requests.request.resumed" in world.types(rid)


async def test_reopen_within_the_window_resumes_the_request(world) -> None:
    rid = await world.submit()
    bo = world.actor("bo")
    await lifecycle.accept(rid, actor=bo, deps=world.deps)
    await lifecycle.resolve(rid, "done", actor=bo, deps=world.deps)
    world.later(days=1)
    await lifecycle.reopen(rid, "still broken", actor=world.actor("ana"), deps=world.deps)
    stored = (await world.stores.requests.get(rid)).value
    assert stored.status is Status.IN_PROGRESS
    assert stored.reopen_count == 1
    assert world.types(rid)[-2:] == ["requests.request.reopened", STATUS]


# --- races -------------------------------------------------------------------------------------


async def test_a_lost_race_reloads_and_keeps_the_winners_change(world) -> None:
    """A comment lands between our load and our save: we retry on top of it, losing nothing."""
    rid = await world.submit()

    async def colleague_comments() -> None:
        await lifecycle.comment(rid, "urgent!", actor=world.actor("ana"), deps=world.deps)

    world.stores.requests.interleave(colleague_comments)
    await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    stored = await world.stores.requests.get(rid)
    assert stored.value.status is Status.ACCEPTED
    assert [c.body for c in stored.value.comments] == ["urgent!"]
    assert stored.version == 3
    assert world.types(rid) == [
        SUBMITTED,
        "requests.request.commented",
        "requests.request.accepted",
        STATUS,
    ]


async def test_two_agents_accepting_at_once_get_one_accept_and_one_conflict(world) -> None:
    rid = await world.submit()

    async def cy_accepts_first() -> None:
        await lifecycle.accept(rid, actor=world.actor("cy"), deps=world.deps)

    world.stores.requests.interleave(cy_accepts_first)
    with pytest.raises(IllegalTransition):  # decided afresh on the reloaded, accepted request
        await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    assert world.types(rid).count("requests.request.accepted") == 1


async def test_a_writer_that_always_loses_gives_up_after_the_retries(make_world) -> None:
    world = await make_world(write_retries=3)
    rid = await world.submit()
    rivals = 0

    async def rival_writes() -> None:
        nonlocal rivals
        rivals += 1
        loaded = await world.stores.requests.get(rid)
        await world.stores.requests.save(loaded)  # any write moves the version on
        if rivals < 5:
            world.stores.requests.interleave(rival_writes)

    world.stores.requests.interleave(rival_writes)
    with pytest.raises(ConcurrentUpdate):
        await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    assert rivals == 3  # one rival per attempt, three attempts
    assert (await world.stores.requests.get(rid)).value.status is Status.SUBMITTED
    assert world.types(rid) == [SUBMITTED]
