"""GraphQL types and queries of the directory (departments and people), from the requests
service."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from enum import Enum
from typing import Annotated, Any, Self, TypeAlias, TypeVar

import strawberry
from strawberry.scalars import JSON

from icr.gateway.clients import Json, UpstreamError, segment
from icr.gateway.context import Context
from icr.gateway.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    check_ids,
    problem_from,
)

Info = strawberry.Info[Context, None]
T = TypeVar("T")
# A resolver's answer now, or the awaitable that fetches it (graphql-core takes either; the
# field's GraphQL type is then given to strawberry.field explicitly).
MaybeAwaitable: TypeAlias = T | Awaitable[T]


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
    calendar: JSON = strawberry.field(
        description="Time zone, working hours per weekday, holidays and extra working days."
    )
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
            calendar=JSON(row["calendar"]),
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

    @strawberry.field(graphql_type=Department | None)
    def department(self, info: Info) -> MaybeAwaitable[Department | None]:
        return department_now(info, self.department_id)

    @classmethod
    def from_json(cls, row: Json) -> Self:  # `Me` too
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


def person_now(info: Info, person_id: str | None) -> MaybeAwaitable[Person | None]:
    """`person`, answered at once when the read cache has them (see `department_now`)."""
    if not person_id:
        return None
    row = info.context.loaders.cached_person(person_id)
    if row is not None:
        return Person.from_json(row)
    return person(info, person_id)


def department_now(info: Info, department_id: str | None) -> MaybeAwaitable[Department | None]:
    """`department`, answered at once (no awaiting, no loader) when the read cache has it: a
    synchronous resolver costs graphql-core a fraction of an asynchronous one."""
    if not department_id:
        return None
    row = info.context.loaders.cached_department(department_id)
    if row is not None:
        return Department.from_json(row)
    return department(info, department_id)


@strawberry.type
class DirectoryQuery:
    # `me` (profile, roles and points) is served by icr.gateway.incentives.

    @strawberry.field(description="Every department.")
    async def departments(self, info: Info) -> list[Department] | None:
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
    async def people(self, info: Info, ids: list[strawberry.ID]) -> list[Person | None] | None:
        rows = await info.context.loaders.people.load_many(check_ids(ids))
        return [Person.from_json(r) if r else None for r in rows]


@strawberry.input
class CalendarInput:
    timezone: str
    week: JSON = strawberry.field(
        description='Working ranges per weekday, e.g. {"mon": "09:00-12:00,13:00-18:00"}.'
    )
    holidays: list[date] | None = None
    extra_working_days: list[date] | None = None
    extra_day_hours: str = ""


@strawberry.input
class DepartmentInput:
    id: strawberry.ID
    names: JSON = strawberry.field(description='The name per locale, e.g. {"en": "IT"}.')
    calendar: CalendarInput
    parent_id: strawberry.ID | None = None
    manager_id: strawberry.ID | None = None


@strawberry.input
class PersonInput:
    id: strawberry.ID
    name: str
    department_id: strawberry.ID
    roles: list[Role] | None = strawberry.field(default=None, description="Default: EMPLOYEE.")
    locale: str = "en"
    active: bool = True


DepartmentResult = Annotated[
    Department | InvalidInput | NotFound | Forbidden | Conflict,
    strawberry.union("DepartmentResult"),
]
PersonResult = Annotated[
    Person | InvalidInput | NotFound | Forbidden | Conflict, strawberry.union("PersonResult")
]


async def _put(info: Info, path: str, body: dict[str, Any]) -> Json | Problem:
    try:
        row: Json = await info.context.clients.requests.call(
            "PUT", path, token=info.context.token(), json=body
        )
    except UpstreamError as error:
        return problem_from(error)
    return row


@strawberry.type
class DirectoryMutation:
    @strawberry.mutation(description="Administrators: create or replace a department.")
    async def upsert_department(self, info: Info, input: DepartmentInput) -> DepartmentResult:
        calendar = input.calendar
        body = {
            "name": input.names,
            "parent_id": input.parent_id and str(input.parent_id),
            "manager_id": input.manager_id and str(input.manager_id),
            "calendar": {
                "timezone": calendar.timezone,
                "week": calendar.week,
                "holidays": [d.isoformat() for d in calendar.holidays or ()],
                "extra_working_days": [d.isoformat() for d in calendar.extra_working_days or ()],
                "extra_day_hours": calendar.extra_day_hours,
            },
        }
        row = await _put(info, f"/departments/{segment(str(input.id))}", body)
        return Department.from_json(row) if isinstance(row, dict) else row

    @strawberry.mutation(description="Administrators: create or replace a person.")
    async def upsert_person(self, info: Info, input: PersonInput) -> PersonResult:
        body = {
            "name": input.name,
            "department_id": str(input.department_id),
            "roles": [r.value for r in input.roles or [Role.EMPLOYEE]],
            "locale": input.locale,
            "active": input.active,
        }
        row = await _put(info, f"/people/{segment(str(input.id))}", body)
        return Person.from_json(row) if isinstance(row, dict) else row
