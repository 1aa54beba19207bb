"""The directory: departments (with their business calendar) and people with their roles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from icr.contracts.requests import DepartmentUpserted, PersonUpserted
from icr.requests.domain.calendar import BusinessCalendar
from icr.requests.domain.errors import InvalidInput
from icr.requests.domain.forms import LOCALES, Localized


class Role(StrEnum):
    EMPLOYEE = "employee"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"


@dataclass(frozen=True)
class Department:
    id: str
    name: Localized
    calendar: BusinessCalendar
    parent_id: str | None = None
    manager_id: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidInput("department id is required")
        if not any(v.strip() for v in self.name.values()):
            raise InvalidInput(f"department {self.id} needs a name")
        if self.parent_id == self.id:
            raise InvalidInput(f"department {self.id} cannot be its own parent")

    def upserted_event(self, at: datetime) -> DepartmentUpserted:
        return DepartmentUpserted(
            department_id=self.id,
            name=dict(self.name),
            parent_id=self.parent_id,
            manager_id=self.manager_id,
            time_zone=self.calendar.timezone,
            upserted_at=at,
        )


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    department_id: str
    roles: frozenset[Role] = field(default_factory=lambda: frozenset({Role.EMPLOYEE}))
    locale: str = "en"
    active: bool = True

    def __post_init__(self) -> None:
        if not self.id or not self.name.strip():
            raise InvalidInput("a person needs an id and a name")
        if self.locale not in LOCALES:
            raise InvalidInput(f"locale {self.locale!r} is not one of {LOCALES}")
        unknown = sorted(str(r) for r in self.roles if r not in set(Role))
        if unknown:
            raise InvalidInput(f"unknown roles {unknown}; use {', '.join(Role)}")
        object.__setattr__(self, "roles", frozenset(Role(r) for r in self.roles))

    def upserted_event(self, at: datetime) -> PersonUpserted:
        return PersonUpserted(
            person_id=self.id,
            name=self.name,
            department_id=self.department_id,
            roles=sorted(str(r) for r in self.roles),
            locale=self.locale,
            active=self.active,
            upserted_at=at,
        )


def check_hierarchy(departments: Iterable[Department]) -> None:
    """Every parent exists and the parent links form no cycle (checked before a bulk import
    applies anything, so a bad file changes nothing)."""
    parents: Mapping[str, str | None] = {d.id: d.parent_id for d in departments}
    for dept_id, parent in parents.items():
        if parent is not None and parent not in parents:
            raise InvalidInput(f"department {dept_id}: unknown parent {parent}")
    for dept_id in parents:
        seen = {dept_id}
        current = parents[dept_id]
        while current is not None:
            if current in seen:
                raise InvalidInput(f"department hierarchy has a cycle through {current}")
            seen.add(current)
            current = parents[current]
