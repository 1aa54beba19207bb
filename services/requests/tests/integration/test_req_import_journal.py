"""A directory import interrupted by a crash is finished by the scheduler, never left half-done."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from icr.requests.domain import Actor, Role
from icr.requests.handlers.importing import import_directory, import_timer
from icr.requests.store.directory import DirectoryStore

pytestmark = pytest.mark.infra

ADMIN = Actor("root", "", frozenset({Role.ADMIN}))


@pytest.fixture
async def service(start, new_settings):
    """Short leases: an entry whose process "died" after journaling is resumed within a second
    (its writer's lease runs out), by the test's timer or the service's own, polling often."""
    async with start(new_settings(sla_lease_seconds=0.5, sla_poll_seconds=0.05)) as running:
        yield running


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


async def test_an_import_slower_than_its_resume_time_is_applied_once(
    start, new_settings, monkeypatch
) -> None:
    # Short leases, so the request renews several times while it applies; the service's own
    # timer polls often, so it would take the import over at once if it could.
    settings = new_settings(sla_lease_seconds=1.5, sla_poll_seconds=0.05, import_resume_seconds=1)
    applied: list[str] = []
    first_row, may_go_on = asyncio.Event(), asyncio.Event()
    save_person = DirectoryStore.save_person

    async def slow_save_person(self, person, **kw):
        applied.append(person.id)
        first_row.set()
        await may_go_on.wait()
        return await save_person(self, person, **kw)

    async with start(settings) as service:
        monkeypatch.setattr(DirectoryStore, "save_person", slow_save_person)  # after the seed
        deps = service.deps
        importing = asyncio.create_task(
            import_directory(rows("4"), "application/json", actor=ADMIN, deps=deps)
        )
        await asyncio.wait_for(first_row.wait(), 10)
        # The import is still applying when its resume time passes (by far).
        service.clock.set(service.clock() + timedelta(hours=1))
        other_replica = asyncio.create_task(import_timer(deps, owner="replica-b").run_due())
        # Before: the timer claimed the journal (no lease on it) and applied the file again,
        # waiting here on the same slow row; now it finds the entry leased by the request.
        await asyncio.wait({other_replica}, timeout=5)
        await asyncio.sleep(4)  # two lease lengths and more, and many polls of the service's timer
        may_go_on.set()
        result = await asyncio.wait_for(importing, 10)
        assert await other_replica == 0
    assert applied == ["pat4"]
    assert result.counts("person")["created"] == 1
