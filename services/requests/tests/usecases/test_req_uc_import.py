"""Directory import on the fakes: all rows or none, journaled before it is applied, parents
before children, unchanged rows silent, and an interrupted import finished from its journal."""

from __future__ import annotations

import json

import pytest

from icr.requests.domain import Actor, Forbidden, InvalidInput, Role
from icr.requests.handlers.errors import ImportPending, ImportRejected
from icr.requests.handlers.importing import import_directory, resume_import

ROOT = Actor("root", "", frozenset({Role.ADMIN}))
JSON = "application/json"
ROWS = [
    {"kind": "person", "id": "pat", "name": "Pat", "department_id": "ops-eu", "roles": "agent"},
    {"kind": "department", "id": "ops-eu", "name_en": "Ops EU", "parent_id": "ops"},
    {"kind": "department", "id": "ops", "name_en": "Ops", "timezone": "Europe/Paris"},
    {"kind": "person", "id": "bo", "name": "Bo", "department_id": "it", "roles": "agent"},
]


def body(rows: list[dict[str, str]]) -> bytes:
    return json.dumps(rows).encode()


async def test_an_import_applies_every_row_parents_first(world) -> None:
    result = await import_directory(body(ROWS), JSON, actor=ROOT, deps=world.deps)
    assert result.summary() == {
        "departments": {"created": 2, "updated": 0, "unchanged": 0},
        "people": {"created": 1, "updated": 0, "unchanged": 1},  # bo is as stored
    }
    keys = [r.key for r in world.outbox.recorded]
    assert keys == ["ops", "ops-eu", "pat"]
    assert (await world.stores.directory.person("pat")).value.roles == {Role.AGENT}
    [entry] = world.stores.imports.entries.values()
    assert (entry.status, entry.body, entry.resume_at) == ("applied", b"", None)
    assert entry.summary == result.summary()


async def test_the_same_file_again_changes_nothing(world) -> None:
    await import_directory(body(ROWS), JSON, actor=ROOT, deps=world.deps)
    world.outbox.take()
    result = await import_directory(body(ROWS), JSON, actor=ROOT, deps=world.deps)
    assert result.counts("department") == {"created": 0, "updated": 0, "unchanged": 2}
    assert world.outbox.events == []


async def test_one_bad_row_rejects_the_file_and_nothing_is_written(world) -> None:
    rows = [
        *ROWS,
        {"kind": "person", "id": "kim", "name": "Kim", "department_id": "nowhere"},
        {"kind": "department", "id": "x", "name_en": "X", "timezone": "Mars/Olympus"},
        {"kind": "robot", "id": "r2"},
    ]
    with pytest.raises(ImportRejected) as rejected:
        await import_directory(body(rows), JSON, actor=ROOT, deps=world.deps)
    assert [(r.row, r.errors[0].field) for r in rejected.value.rows] == [
        (5, "department_id"),
        (6, "timezone"),
        (7, "kind"),
    ]
    assert await world.stores.directory.department("ops") is None
    assert world.outbox.events == []
    assert world.stores.imports.entries == {}  # rejected before it was journaled


async def test_only_admins_import(world) -> None:
    with pytest.raises(Forbidden):
        await import_directory(body(ROWS), JSON, actor=world.actor("ivy"), deps=world.deps)
    assert world.stores.imports.entries == {}


async def test_a_malformed_file_is_bad_input(world) -> None:
    with pytest.raises(InvalidInput, match="unknown columns"):
        await import_directory(b"kind,id,shoe_size\n", "text/csv", actor=ROOT, deps=world.deps)
    with pytest.raises(InvalidInput, match="array of row objects"):
        await import_directory(b'{"kind": "person"}', JSON, actor=ROOT, deps=world.deps)


async def test_an_import_interrupted_part_way_is_finished_from_its_journal(world) -> None:
    async def store_fails() -> None:
        raise ConnectionError("the store went away")

    world.stores.directory.people.interleave(store_fails)  # departments land, people not
    with pytest.raises(ImportPending) as pending:
        await import_directory(body(ROWS), JSON, actor=ROOT, deps=world.deps)
    entry = world.stores.imports.entries[pending.value.import_id]
    assert entry.status == "applying"
    assert entry.body == body(ROWS)
    assert await world.stores.directory.department("ops") is not None
    assert await world.stores.directory.person("pat") is None

    await resume_import(pending.value.import_id, entry.resume_at, deps=world.deps)
    assert entry.status == "applied"
    assert await world.stores.directory.person("pat") is not None
    assert [r.key for r in world.outbox.recorded] == ["ops", "ops-eu", "pat"]  # none twice
    await resume_import(pending.value.import_id, entry.resume_at, deps=world.deps)  # no-op now
    assert len(world.outbox.recorded) == 3


async def test_a_journaled_file_that_no_longer_fits_is_closed_as_rejected(world) -> None:
    rows = [{"kind": "person", "id": "kim", "name": "Kim", "department_id": "nowhere"}]
    await world.deps.imports.begin(
        "imp",
        body=body(rows),
        content_type=JSON,
        actor_id="root",
        at=world.clock(),
        resume_at=world.clock(),
    )
    await resume_import("imp", world.clock(), deps=world.deps)
    entry = world.stores.imports.entries["imp"]
    assert entry.status == "rejected"
    assert "invalid" in entry.summary["error"]
    assert world.outbox.events == []
