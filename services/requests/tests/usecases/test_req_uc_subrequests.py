"""Sub-requests on the fakes: raised by the parent's provider while it works on it, mirrored on
the parent, blocking its resolution while open, and withdrawn if the parent closed meanwhile."""

from __future__ import annotations

import pytest

from icr.requests.domain import Conflict, Forbidden, NotFound, Status
from icr.requests.handlers import lifecycle
from icr.requests.handlers.reads import get_request


async def _working_parent(world) -> str:
    rid = await world.submit()
    await lifecycle.accept(rid, actor=world.actor("bo"), deps=world.deps)
    return rid


async def test_a_subrequest_is_linked_on_both_sides(world) -> None:
    parent = await _working_parent(world)
    child = await world.submit("bo", parent_id=parent)
    assert (await world.stores.requests.get(child)).value.parent_id == parent
    stored = (await world.stores.requests.get(parent)).value
    assert stored.children == {child: Status.SUBMITTED}
    assert world.types(child) == ["requests.request.submitted"]
    view = await get_request(parent, actor=world.actor("bo"), deps=world.deps)
    assert [c.id for c in view.children] == [child]


async def test_only_the_parents_provider_side_raises_subrequests(world) -> None:
    parent = await _working_parent(world)
    with pytest.raises(Forbidden):
        await world.submit("ana", parent_id=parent)
    with pytest.raises(NotFound):  # cannot even see it
        await world.submit("eve", parent_id=parent)
    assert len(world.stores.requests.docs) == 1


async def test_a_parent_not_yet_accepted_takes_no_subrequests(world) -> None:
    parent = await world.submit()
    with pytest.raises(Conflict):
        await world.submit("bo", parent_id=parent)
    assert len(world.stores.requests.docs) == 1


async def test_an_open_subrequest_blocks_resolving_the_parent(world) -> None:
    parent = await _working_parent(world)
    child = await world.submit("bo", parent_id=parent)
    with pytest.raises(Conflict):
        await lifecycle.resolve(parent, "done", actor=world.actor("bo"), deps=world.deps)
    await lifecycle.cancel(child, "not needed", actor=world.actor("bo"), deps=world.deps)
    assert (await world.stores.requests.get(parent)).value.children == {child: Status.CANCELLED}
    await lifecycle.resolve(parent, "done", actor=world.actor("bo"), deps=world.deps)
    assert (await world.stores.requests.get(parent)).value.status is Status.RESOLVED


async def test_resolving_reads_the_children_not_a_stale_mirror(world) -> None:
    """The mirror on the parent missed the child's move (a crash between the two writes):
    resolve re-reads the children before deciding."""
    parent = await _working_parent(world)
    child = await world.submit("bo", parent_id=parent)
    loaded = await world.stores.requests.get(child)
    loaded.value.cancel(by="bo", at=world.clock(), reason="no longer needed")
    await world.stores.requests.save(loaded)  # the child alone, as if the sync never ran
    assert (await world.stores.requests.get(parent)).value.children[child] is Status.SUBMITTED
    await lifecycle.resolve(parent, "done", actor=world.actor("bo"), deps=world.deps)
    assert (await world.stores.requests.get(parent)).value.status is Status.RESOLVED


async def test_a_child_raised_as_the_parent_resolves_is_withdrawn(world) -> None:
    parent = await _working_parent(world)

    async def parent_resolved_meanwhile() -> None:
        await lifecycle.resolve(parent, "done", actor=world.actor("cy"), deps=world.deps)

    # The parent is resolved between the submit's check and the child's insert.
    world.stores.requests.interleave(parent_resolved_meanwhile)
    with pytest.raises(Conflict):
        await world.submit("bo", parent_id=parent)
    [child] = [r for r in world.stores.requests.docs if r != parent]
    stored = (await world.stores.requests.get(child)).value
    assert stored.status is Status.CANCELLED
    assert world.types(child)[-2:] == [
        "requests.request.cancelled",
        "requests.request.status_changed",
    ]
    assert (await world.stores.requests.get(parent)).value.children == {}
