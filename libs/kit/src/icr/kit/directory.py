"""A service's own view of the directory, projected from the requests service's events.

The requests service owns people and departments; feedback and incentives learn them only from
`requests.person.upserted` and `requests.department.upserted`. Each event carries the whole
state of its person or department, and the consumer applies one aggregate's events in sequence
order, so applying one is a plain replace: a redelivery or a replay from the start of the topic
ends in the same documents.

`caller` turns a verified token into a `Member`: roles and department come from this view,
never from the token (unless AUTH_ROLES_CLAIM trusts the issuer's roles). A person the view does
not know (yet) or one who was deactivated gets 401, exactly like a bad token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from pymongo import ASCENDING, IndexModel

from icr.contracts import Envelope
from icr.contracts.requests import DepartmentUpserted, PersonUpserted
from icr.kit.auth import Identity, IdentityDep, InvalidToken
from icr.kit.consumer import Subscription
from icr.kit.mongo import Mongo
from icr.kit.settings import ServiceSettings

PEOPLE = "directory_people"
DEPARTMENTS = "directory_departments"
DIRECTORY_INDEXES: Mapping[str, Sequence[IndexModel]] = {
    PEOPLE: [IndexModel([("department_id", ASCENDING)])],
    DEPARTMENTS: [IndexModel([("manager_id", ASCENDING)])],
}

ADMIN, MANAGER, AGENT, EMPLOYEE = "admin", "manager", "agent", "employee"


@dataclass(frozen=True)
class Member:
    """The caller as this service sees them."""

    person_id: str
    department_id: str
    roles: frozenset[str]
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def manages(self, department_id: str) -> bool:
        return self.department_id == department_id and MANAGER in self.roles

    def serves_in(self, department_id: str) -> bool:
        """An agent or manager of `department_id` (the provider side of its requests)."""
        return self.department_id == department_id and bool({AGENT, MANAGER} & self.roles)


@dataclass(frozen=True)
class KnownPerson:
    person_id: str
    name: str
    department_id: str
    roles: frozenset[str]
    active: bool


@dataclass(frozen=True)
class KnownDepartment:
    department_id: str
    name: dict[str, str]
    parent_id: str | None
    manager_id: str | None


class DirectoryView:
    def __init__(self, mongo: Mongo) -> None:
        self.people = mongo.collection(PEOPLE)
        self.departments = mongo.collection(DEPARTMENTS)

    async def apply_person(self, event: PersonUpserted) -> None:
        await self.people.replace_one(
            {"_id": event.person_id},
            {
                "name": event.name,
                "department_id": event.department_id,
                "roles": sorted(set(event.roles)),
                "active": event.active,
                "upserted_at": event.upserted_at,
            },
            upsert=True,
        )

    async def apply_department(self, event: DepartmentUpserted) -> None:
        await self.departments.replace_one(
            {"_id": event.department_id},
            {
                "name": event.name,
                "parent_id": event.parent_id,
                "manager_id": event.manager_id,
                "upserted_at": event.upserted_at,
            },
            upsert=True,
        )

    async def person(self, person_id: str) -> KnownPerson | None:
        doc = await self.people.find_one({"_id": person_id})
        return None if doc is None else _person(doc)

    async def persons(self, person_ids: Sequence[str]) -> list[KnownPerson]:
        docs = await self.people.find({"_id": {"$in": list(person_ids)}}).to_list()
        return [_person(d) for d in docs]

    async def department(self, department_id: str) -> KnownDepartment | None:
        doc = await self.departments.find_one({"_id": department_id})
        return None if doc is None else _department(doc)

    async def people_in(self, department_id: str) -> list[KnownPerson]:
        docs = await self.people.find({"department_id": department_id}).to_list()
        return [_person(d) for d in docs]


def _person(doc: Mapping[str, Any]) -> KnownPerson:
    return KnownPerson(
        doc["_id"], doc["name"], doc["department_id"], frozenset(doc["roles"]), doc["active"]
    )


def _department(doc: Mapping[str, Any]) -> KnownDepartment:
    return KnownDepartment(doc["_id"], doc["name"], doc.get("parent_id"), doc.get("manager_id"))


def follow_directory(sub: Subscription, view: DirectoryView) -> None:
    """Adds the directory's handlers to a service's subscription."""

    @sub.on(PersonUpserted)
    async def project_person(event: PersonUpserted, envelope: Envelope) -> None:
        await view.apply_person(event)

    @sub.on(DepartmentUpserted)
    async def project_department(event: DepartmentUpserted, envelope: Envelope) -> None:
        await view.apply_department(event)


async def resolve_member(
    identity: Identity, view: DirectoryView, settings: ServiceSettings
) -> Member:
    """The verified caller as a Member; 401 when the directory does not know them or they
    were deactivated. Bootstrap admins, and admins by a trusted issuer role (AUTH_ROLES_CLAIM),
    are admins even before the directory has them (the same rule as the requests service)."""
    person_id = identity.subject
    extra = identity.trusted_roles
    if person_id in settings.bootstrap_admin_ids:
        extra = extra | {ADMIN}
    known = await view.person(person_id)
    if known is None:
        if ADMIN in extra:
            return Member(person_id, "", extra)
        raise InvalidToken("the token's person is not in the directory")
    if not known.active:
        # Deactivation revokes everything, a bootstrap admin's rights included.
        raise InvalidToken("the token's person is deactivated")
    return Member(person_id, known.department_id, known.roles | extra, known.name)


def member_dependency(
    view_of: Callable[[Request], DirectoryView],
) -> Callable[..., Any]:
    """A FastAPI dependency giving the calling Member, for a service whose view `view_of`
    finds (built once per runtime)."""

    async def caller(request: Request, identity: IdentityDep) -> Member:
        settings: ServiceSettings = request.app.state.runtime.settings
        return await resolve_member(identity, view_of(request), settings)

    return caller


def member_annotation(view_of: Callable[[Request], DirectoryView]) -> Any:
    return Annotated[Member, Depends(member_dependency(view_of))]
