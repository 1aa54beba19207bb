"""Use cases of the directory: who is asking, and departments and people one at a time."""

from __future__ import annotations

from collections.abc import Iterable

from icr.requests.domain.access import Actor, can_manage_directory
from icr.requests.domain.directory import Department, Person, Role, check_hierarchy
from icr.requests.domain.errors import FieldError, Forbidden, FormInvalid, NotFound
from icr.requests.handlers.deps import Deps, retrying
from icr.requests.handlers.errors import Unauthenticated
from icr.requests.store import Saved


async def resolve_actor(person_id: str, *, deps: Deps, trusted_roles: Iterable[str] = ()) -> Actor:
    """The actor a verified token names. Roles and department come from the directory; on top,
    roles the issuer vouches for (only when AUTH_ROLES_CLAIM trusts them, else none are given)
    and admin for BOOTSTRAP_ADMINS, who are admins even before the directory has them."""
    if not person_id:
        raise Unauthenticated("the token names no person")
    extra = frozenset(Role(r) for r in trusted_roles if r in _ROLE_NAMES)
    if person_id in deps.settings.bootstrap_admin_ids:
        extra |= {Role.ADMIN}
    found = await deps.directory.person(person_id)
    if found is not None:
        # Deactivating a person revokes everything, a bootstrap admin's rights included.
        if not found.value.active:
            raise Unauthenticated(f"person {person_id!r} is inactive")
        actor = Actor.of(found.value)
        return Actor(actor.person_id, actor.department_id, actor.roles | extra)
    if Role.ADMIN in extra:
        return Actor(person_id, "", extra)
    raise Unauthenticated(f"unknown person {person_id!r}")


_ROLE_NAMES = frozenset(r.value for r in Role)


def _require_directory_admin(actor: Actor) -> None:
    if not can_manage_directory(actor):
        raise Forbidden("only administrators may change the directory")


async def upsert_department(department: Department, *, actor: Actor, deps: Deps) -> Saved:
    """Create or replace a department; an identical one changes nothing and emits nothing."""
    _require_directory_admin(actor)

    async def attempt() -> Saved:
        known = await deps.directory.department(department.id)
        errors: list[FieldError] = []
        if department.manager_id is not None and not await deps.directory.person_ids(
            [department.manager_id]
        ):
            errors.append(FieldError("manager_id", "unknown", "no person with this id"))
        if department.parent_id is not None:
            others = {d.id: d for d in await deps.directory.all_departments()}
            if department.parent_id not in others:
                errors.append(FieldError("parent_id", "unknown", "no department with this id"))
            else:
                others[department.id] = department
                try:
                    check_hierarchy(others.values())
                except ValueError as exc:
                    errors.append(FieldError("parent_id", "cycle", str(exc)))
        if errors:
            raise FormInvalid(errors)
        return await deps.directory.save_department(department, known=known, at=deps.clock())

    return await retrying(deps, attempt)


async def upsert_person(person: Person, *, actor: Actor, deps: Deps) -> Saved:
    _require_directory_admin(actor)

    async def attempt() -> Saved:
        if not await deps.directory.department_ids([person.department_id]):
            raise FormInvalid(
                [FieldError("department_id", "unknown", "no department with this id")]
            )
        known = await deps.directory.person(person.id)
        return await deps.directory.save_person(person, known=known, at=deps.clock())

    return await retrying(deps, attempt)


async def get_person(person_id: str, *, deps: Deps) -> Person:
    found = await deps.directory.person(person_id)
    if found is None:
        raise NotFound(f"person {person_id} not found")
    return found.value


async def get_people(person_ids: list[str], *, deps: Deps) -> list[Person]:
    """The people among `person_ids` (unknown ids are absent), at most `max_batch_ids`."""
    limit = deps.settings.max_batch_ids
    if len(set(person_ids)) > limit:
        raise FormInvalid([FieldError("id", "too_many", f"at most {limit} ids per call")])
    found = await deps.directory.people_by_ids(dict.fromkeys(person_ids))
    return [found[i].value for i in dict.fromkeys(person_ids) if i in found]


async def list_departments(*, deps: Deps) -> list[Department]:
    return await deps.directory.all_departments()
