"""Reading on the fakes: one request, a batch and a page, each narrowed to what the actor sees."""

from __future__ import annotations

import pytest

from icr.requests.domain import FormInvalid, NotFound, Status
from icr.requests.handlers import lifecycle
from icr.requests.handlers.reads import ListRequests, batch_requests, get_request, list_requests
from icr.requests.store import RequestFilters


async def test_a_request_is_shown_with_what_this_actor_may_do(world) -> None:
    rid = await world.submit()
    agent_view = await get_request(rid, actor=world.actor("bo"), deps=world.deps)
    requester_view = await get_request(rid, actor=world.actor("ana"), deps=world.deps)
    assert "accept" in agent_view.actions
    assert "accept" not in requester_view.actions
    assert "cancel" in requester_view.actions
    with pytest.raises(NotFound):
        await get_request(rid, actor=world.actor("eve"), deps=world.deps)


async def test_a_batch_keeps_the_order_asked_and_drops_the_invisible(world) -> None:
    mine, theirs = await world.submit("ana"), await world.submit("bo")
    views = await batch_requests(
        [theirs, "missing", mine, mine], actor=world.actor("ana"), deps=world.deps
    )
    assert [v.request.id for v in views] == [mine]
    views = await batch_requests([theirs, mine], actor=world.actor("cy"), deps=world.deps)
    assert [v.request.id for v in views] == [theirs, mine]


async def test_too_many_ids_in_a_batch_is_bad_input(make_world) -> None:
    world = await make_world(max_batch_ids=2)
    with pytest.raises(FormInvalid):
        await batch_requests(["a", "b", "c"], actor=world.actor("ana"), deps=world.deps)


async def test_a_queue_pages_through_what_the_agent_sees(world) -> None:
    ids = []
    for _ in range(5):
        ids.append(await world.submit())
        world.later(minutes=1)
    await lifecycle.accept(ids[0], actor=world.actor("bo"), deps=world.deps)
    open_queue = ListRequests(filters=RequestFilters(statuses=(Status.SUBMITTED,)), limit=2)
    seen, cursor = [], None
    while True:
        page = await list_requests(
            ListRequests(filters=open_queue.filters, limit=2, cursor=cursor),
            actor=world.actor("bo"),
            deps=world.deps,
        )
        seen += [v.request.id for v in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids[:0:-1]  # newest first, the accepted one left out
    outsider = await list_requests(ListRequests(), actor=world.actor("eve"), deps=world.deps)
    assert outsider.items == []


@pytest.mark.parametrize("limit", [0, 201])
async def test_a_page_size_out_of_range_is_bad_input(world, limit) -> None:
    with pytest.raises(FormInvalid):
        await list_requests(ListRequests(limit=limit), actor=world.actor("bo"), deps=world.deps)


async def test_a_cursor_from_another_sort_is_bad_input(world) -> None:
    with pytest.raises(FormInvalid):
        await list_requests(
            ListRequests(cursor="not-a-cursor"), actor=world.actor("bo"), deps=world.deps
        )
