"""A directory import interrupted by a crash is finished by the scheduler, never left half-done."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from icr.requests.domain import Actor, Role
from icr.requests.handlers.importing import import_directory, import_timer

pytestmark = pytest.mark.infra

ADMIN = Actor("root", "", frozenset({Role.ADMIN}))


def rows(tag: str) -> bytes:
    return json.dumps(
        [
            {"kind": "department", "id": f"ops{tag}", "name_en": "Operations", "timezone": "UTC"},
            {"kind": "person", "id": f"pat{tag}", "name": "Pat", "department_id": f"ops{tag}"},
        ]
    ).encode()


async def settled(deps, import_id: str) -> dict:
    async with asyncio.timeout(10):
        while True:
            journaled = await deps.imports.collection.find_one({"_id": import_id})
            if journaled["status"] != "applying":
                return journaled
            await asyncio.sleep(0.05)


async def test_an_import_the_process_died_in_is_applied_when_its_resume_time_passes(
    service,
) -> None:
    deps, now = service.deps, service.clock()
    # The journal entry is written and then the process dies before applying any row.
    await deps.imports.begin(
        "imp-1",
        body=rows("1"),
        content_type="application/json",
        actor_id="root",
        at=now,
        resume_at=now + timedelta(seconds=60),
    )
    timer = import_timer(deps, owner="replica-b")
    assert await timer.run_due() == 0  # not before its resume time
    assert await deps.directory.department("ops1") is None

    service.clock.set(now + timedelta(seconds=61))
    # This replica or the service's own background scheduler takes it; either way, once.
    await timer.run_due()
    await settled(deps, "imp-1")
    assert await deps.directory.department("ops1") is not None
    assert (await deps.directory.person("pat1")) is not None
    journaled = await deps.imports.collection.find_one({"_id": "imp-1"})
    assert journaled["status"] == "applied"
    assert journaled["summary"]["people"]["created"] == 1
    assert "body" not in journaled
    assert await timer.run_due() == 0  # done means done


async def test_a_completed_import_leaves_nothing_to_resume(service) -> None:
    deps = service.deps
    await import_directory(rows("2"), "application/json", actor=ADMIN, deps=deps)
    [journaled] = await deps.imports.collection.find({}).to_list()
    assert (journaled["status"], journaled["resume_at"]) == ("applied", None)
    service.clock.set(service.clock() + timedelta(days=1))
    assert await import_timer(deps, owner="x").run_due() == 0


async def test_an_interrupted_import_that_no_longer_fits_is_marked_rejected(service) -> None:
    deps, now = service.deps, service.clock()
    bad = json.dumps([{"kind": "person", "id": "ghost", "name": "G", "department_id": "nowhere"}])
    await deps.imports.begin(
        "imp-3",
        body=bad.encode(),
        content_type="application/json",
        actor_id="root",
        at=now,
        resume_at=now,
    )
    await import_timer(deps, owner="x").run_due()
    journaled = await settled(deps, "imp-3")
    assert journaled["status"] == "rejected"
    assert await deps.directory.person("ghost") is None
