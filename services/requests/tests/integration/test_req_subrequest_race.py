"""A sub-request raised while its parent is being resolved never stays open under it."""

from __future__ import annotations

import pytest

from icr.requests.domain import Conflict, Status
from icr.requests.handlers import lifecycle
from icr.requests.handlers.submit import Submission, submit_request

pytestmark = pytest.mark.infra


async def test_a_child_whose_parent_was_resolved_meanwhile_is_withdrawn(service) -> None:
    bo, cy = service.actor("bo"), service.actor("cy")
    deps = service.deps
    parent_id = await service.submit("ana")
    await lifecycle.accept(parent_id, actor=bo, deps=deps)

    add = deps.requests.add
    child_ids: list[str] = []

    async def resolve_parent_first(request):  # another agent resolves in between
        child_ids.append(request.id)
        await lifecycle.resolve(parent_id, "done already", actor=cy, deps=deps)
        await add(request)

    deps.requests.add = resolve_parent_first  # type: ignore[method-assign]
    try:
        with pytest.raises(Conflict):
            await submit_request(
                Submission(
                    catalog_item_id="laptop",
                    title="Spare",
                    form={"model": "pro"},
                    parent_id=parent_id,
                ),
                actor=bo,
                deps=deps,
            )
    finally:
        deps.requests.add = add  # type: ignore[method-assign]

    parent = (await deps.requests.get(parent_id)).value
    child = (await deps.requests.get(child_ids[0])).value
    assert parent.status is Status.RESOLVED
    assert child.status is Status.CANCELLED
    assert child.reason == "the parent request was closed meanwhile"
