"""Directory use cases on the fakes: who may change it, what is checked against the stored
directory, and that an upsert equal to what is stored records nothing."""

from __future__ import annotations

import pytest

from icr.requests.domain import (
    Actor,
    BusinessCalendar,
    Department,
    Forbidden,
    FormInvalid,
    Person,
    Role,
)
from icr.requests.handlers.directory import resolve_actor, upsert_department, upsert_person
from icr.requests.handlers.errors import Unauthenticated

ROOT = Actor("root", "", frozenset({Role.ADMIN}))
CAL = BusinessCalendar.always()


async def test_a_new_department_is_created_with_its_event(world) -> None:
    saved = await upsert_department(
        Department("ops", {"en": "Ops"}, CAL), actor=ROOT, deps=world.deps
    )
    assert (saved.created, saved.changed) == (True, True)
    assert world.types("ops") == ["requests.department.upserted"]
    again = await upsert_department(
        Department("ops", {"en": "Ops"}, CAL), actor=ROOT, deps=world.deps
    )
    assert (again.created, again.changed) == (False, False)
    assert world.types("ops") == ["requests.department.upserted"]


async def test_only_admins_change_the_directory(world) -> None:
    manager = world.actor("ivy")
    with pytest.raises(Forbidden):
        await upsert_department(
            Department("ops", {"en": "Ops"}, CAL), actor=manager, deps=world.deps
        )
    with pytest.raises(Forbidden):
        await upsert_person(Person("new", "New", "it"), actor=manager, deps=world.deps)
    assert world.outbox.events == []


async def test_unknown_links_are_reported_together(world) -> None:
    ops = Department("ops", {"en": "Ops"}, CAL, parent_id="nowhere", manager_id="nobody")
    with pytest.raises(FormInvalid) as refused:
        await upsert_department(ops, actor=ROOT, deps=world.deps)
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("parent_id", "unknown"),
        ("manager_id", "unknown"),
    }
    assert await world.stores.directory.department("ops") is None


async def test_a_parent_chain_back_to_itself_is_refused(world) -> None:
    await upsert_department(
        Department("desk", {"en": "Desk"}, CAL, parent_id="it"), actor=ROOT, deps=world.deps
    )
    it_under_desk = Department("it", {"en": "IT"}, CAL, parent_id="desk")
    with pytest.raises(FormInvalid) as refused:
        await upsert_department(it_under_desk, actor=ROOT, deps=world.deps)
    assert [e.code for e in refused.value.errors] == ["cycle"]
    assert (await world.stores.directory.department("it")).value.parent_id is None


async def test_a_person_needs_a_known_department(world) -> None:
    with pytest.raises(FormInvalid):
        await upsert_person(Person("zed", "Zed", "nowhere"), actor=ROOT, deps=world.deps)
    assert await world.stores.directory.person("zed") is None
    assert world.outbox.events == []


async def test_an_upsert_that_loses_a_race_to_the_same_change_records_it_once(world) -> None:
    moved = Person("bo", "Bo", "legal", frozenset({Role.AGENT}))

    async def someone_else_moves_bo() -> None:
        await upsert_person(moved, actor=ROOT, deps=world.deps)

    world.stores.directory.people.interleave(someone_else_moves_bo)
    saved = await upsert_person(moved, actor=ROOT, deps=world.deps)
    assert not saved.changed  # decided again on the winner's state, which is already ours
    assert world.types("bo") == ["requests.person.upserted"]


async def test_the_actor_is_who_the_directory_says(make_world) -> None:
    world = await make_world(bootstrap_admins="root,ivy")
    bo = await resolve_actor("bo", deps=world.deps)
    assert (bo.department_id, bo.roles) == ("it", frozenset({Role.AGENT}))
    ivy = await resolve_actor("ivy", deps=world.deps)  # a bootstrap admin who also exists
    assert ivy.roles == {Role.MANAGER, Role.ADMIN}
    root = await resolve_actor("root", deps=world.deps)  # not in the directory yet
    assert (root.department_id, root.roles) == ("", frozenset({Role.ADMIN}))
    for unknown in (None, "", "ghost"):
        with pytest.raises(Unauthenticated):
            await resolve_actor(unknown, deps=world.deps)


async def test_deactivating_a_person_revokes_even_bootstrap_admin_rights(make_world) -> None:
    world = await make_world(bootstrap_admins="root,ivy")
    gone = Person("ivy", "Ivy", "it", frozenset({Role.MANAGER}), active=False)
    await upsert_person(gone, actor=ROOT, deps=world.deps)
    with pytest.raises(Unauthenticated, match="inactive"):
        await resolve_actor("ivy", deps=world.deps)


async def test_roles_the_issuer_vouches_for_add_to_the_directorys(make_world) -> None:
    # Only reached when AUTH_ROLES_CLAIM trusts the issuer: the verifier gives no roles else.
    world = await make_world()
    bo = await resolve_actor("bo", deps=world.deps, trusted_roles={"manager", "auditor"})
    assert (bo.department_id, bo.roles) == ("it", frozenset({Role.AGENT, Role.MANAGER}))
    admin = await resolve_actor("newcomer", deps=world.deps, trusted_roles={"admin"})
    assert admin.roles == {Role.ADMIN}
    with pytest.raises(Unauthenticated, match="unknown"):
        await resolve_actor("newcomer", deps=world.deps, trusted_roles={"manager"})
    gone = Person("bo", "Bo", "it", frozenset({Role.AGENT}), active=False)
    await upsert_person(gone, actor=ROOT, deps=world.deps)
    with pytest.raises(Unauthenticated, match="inactive"):
        await resolve_actor("bo", deps=world.deps, trusted_roles={"admin"})
