"""GraphQL types and queries of the directory (departments and people), from the requests
service."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.scalars import JSON

from icr.gateway.clients import Json
from icr.gateway.context import Context
from icr.gateway.errors import check_ids

Info = strawberry.Info[Context, None]


def localized(names: object, locale: str) -> str:
    """The name in `locale`, else English, else any: a name is never missing for a locale."""
    if not isinstance(names, dict) or not names:
        return ""
    return str(names.get(locale) or names.get("en") or next(iter(names.values())))


@strawberry.enum
class Role(Enum):
    EMPLOYEE = "employee"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"


@strawberry.type
class Department:
    id: strawberry.ID
    names: JSON = strawberry.field(description="The name per locale, e.g. {en, zh-CN}.")
    timezone: str
    parent_id: strawberry.Private[str | None]
    manager_id: strawberry.Private[str | None]

    @strawberry.field(description="The name in a locale (English if it has none there).")
    def name(self, locale: str = "en") -> str:
        return localized(self.names, locale)

    @strawberry.field
    async def parent(self, info: Info) -> Department | None:
        return await department(info, self.parent_id)

    @strawberry.field
    async def manager(self, info: Info) -> Person | None:
        return await person(info, self.manager_id)

    @classmethod
    def from_json(cls, row: Json) -> Department:
        return cls(
            id=strawberry.ID(row["id"]),
            names=JSON(row["name"]),
            timezone=row["calendar"]["timezone"],
            parent_id=row.get("parent_id"),
            manager_id=row.get("manager_id"),
        )


@strawberry.type
class Person:
    id: strawberry.ID
    name: str
    roles: list[Role]
    locale: str
    active: bool
    department_id: strawberry.Private[str]

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await department(info, self.department_id)

    @classmethod
    def from_json(cls, row: Json) -> Person:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            roles=[Role(r) for r in row["roles"]],
            locale=row["locale"],
            active=row["active"],
            department_id=row["department_id"],
        )


async def person(info: Info, person_id: str | None) -> Person | None:
    if not person_id:
        return None
    row = await info.context.loaders.people.load(person_id)
    return Person.from_json(row) if row else None


async def department(info: Info, department_id: str | None) -> Department | None:
    if not department_id:
        return None
    row = await info.context.loaders.departments.load(department_id)
    return Department.from_json(row) if row else None


@strawberry.type
class DirectoryQuery:
    @strawberry.field(description="The caller: profile and roles from the directory.")
    async def me(self, info: Info) -> Person | None:
        identity = info.context.identity
        info.context.token()  # UNAUTHENTICATED without a valid token
        assert identity is not None
        return await person(info, identity.subject)

    @strawberry.field(description="Every department.")
    async def departments(self, info: Info) -> list[Department]:
        rows = await info.context.clients.requests.call(
            "GET", "/departments", token=info.context.token()
        )
        for row in rows:  # later department(id) lookups in this query reuse the list
            info.context.loaders.departments.prime(row["id"], row)
        return [Department.from_json(row) for row in rows]

    @strawberry.field(description="A department by id.")
    async def department(self, info: Info, id: strawberry.ID) -> Department | None:
        return await department(info, str(id))

    @strawberry.field(description="A person by id.")
    async def person(self, info: Info, id: strawberry.ID) -> Person | None:
        return await person(info, str(id))

    @strawberry.field(description="People by id, in the order asked (null where unknown).")
    async def people(self, info: Info, ids: list[strawberry.ID]) -> list[Person | None]:
        rows = await info.context.loaders.people.load_many(check_ids(ids))
        return [Person.from_json(r) if r else None for r in rows]
