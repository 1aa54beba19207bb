"""Keeping a parent request in step with its sub-requests.

Decision: synchronously, in this service, right after the child's own write (not through a
consumer of our own topic). The parent's view of its children is then current in the same HTTP
call, with no extra consumer group to run. Two writes to two documents are not atomic, so the
child's `parent_id` is the source of truth: the detailed view lists children by querying it,
and a parent re-reads its children's statuses before deciding whether it may resolve. A crash
between the two writes therefore only delays the parent's history entry, never the rule.
"""

from __future__ import annotations

import logging
from datetime import datetime

from icr.kit.outbox import ConcurrentUpdate
from icr.requests.domain.lifecycle import WORKING
from icr.requests.domain.request import ServiceRequest
from icr.requests.domain.timeline import SYSTEM
from icr.requests.handlers.deps import Deps, retrying

log = logging.getLogger(__name__)


async def link_child(parent_id: str, child_id: str, *, by: str, deps: Deps) -> None:
    """Record on the parent that `child_id` was raised from it."""

    async def attempt() -> None:
        loaded = await deps.requests.get(parent_id)
        if loaded is None:
            return
        loaded.value.add_subrequest(by=by, at=deps.clock(), child_id=child_id)
        await deps.requests.save(loaded)

    await retrying(deps, attempt)


async def withdraw_child(child_id: str, reason: str, *, deps: Deps) -> None:
    """Cancel a sub-request whose parent refused the link (it was resolved meanwhile)."""

    async def attempt() -> None:
        loaded = await deps.requests.get(child_id)
        if loaded is None:
            return
        loaded.value.cancel(by=SYSTEM, at=deps.clock(), reason=reason)
        await deps.requests.save(loaded)

    await retrying(deps, attempt)


async def sync_parent(child: ServiceRequest, *, deps: Deps) -> None:
    """Mirror a child's current status on its parent (best effort; see the module docstring)."""
    if child.parent_id is None:
        return
    parent_id = child.parent_id

    async def attempt() -> None:
        # Re-read the child: a concurrent change to it may have landed after ours, and the
        # parent must converge on the latest status, not on the order the syncs finish in.
        current = await deps.requests.get(child.id)
        loaded = await deps.requests.get(parent_id)
        if current is None or loaded is None or child.id not in loaded.value.children:
            return
        parent, status = loaded.value, current.value.status
        if parent.children[child.id] != status:
            parent.note_child_status(child.id, status, at=deps.clock())
            await deps.requests.save(loaded)

    try:
        await retrying(deps, attempt)
    except ConcurrentUpdate:
        log.warning(
            "parent not updated; it re-reads its children before resolving",
            extra={"request_id": parent_id, "child_id": child.id},
        )


async def refresh_children(parent: ServiceRequest, *, at: datetime, deps: Deps) -> None:
    """Bring the parent's mirror of its children up to date from the children themselves."""
    if parent.status not in WORKING:
        return
    for child in await deps.requests.children_of(parent.id):
        if child.id not in parent.children:
            parent.add_subrequest(by=SYSTEM, at=at, child_id=child.id)
        parent.note_child_status(child.id, child.status, at=at)
