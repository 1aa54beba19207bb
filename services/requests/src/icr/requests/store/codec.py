"""Stored documents <-> domain objects for the directory and the catalog.

Dates become ISO strings (BSON has datetimes only), durations become whole seconds, and sets
become sorted lists, so a document compares equal to itself after a round trip.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from icr.kit.mongo import Document
from icr.requests.domain.calendar import BusinessCalendar
from icr.requests.domain.catalog import CatalogItem, OlaOverride, Priority, Targets
from icr.requests.domain.directory import Department, Person, Role
from icr.requests.domain.forms import (
    ChoiceField,
    DateField,
    FormField,
    NumberField,
    PersonField,
    TextField,
)

# --- calendar ----------------------------------------------------------------------------------


def calendar_to_doc(calendar: BusinessCalendar) -> Document:
    return {
        "timezone": calendar.timezone,
        "week": calendar.spec(),
        "holidays": sorted(d.isoformat() for d in calendar.holidays),
        "extra_working_days": sorted(d.isoformat() for d in calendar.extra_working_days),
        "extra_day_hours": ",".join(map(str, calendar.extra_day_hours)),
    }


def calendar_from_doc(doc: Document) -> BusinessCalendar:
    # Every stored request carries its calendar; a page of them mostly shares one or two.
    # BusinessCalendar is immutable, so one parsed instance serves every document that has it.
    return _calendar(
        doc["timezone"],
        tuple(sorted(doc["week"].items())),
        tuple(doc.get("holidays", ())),
        tuple(doc.get("extra_working_days", ())),
        doc.get("extra_day_hours", ""),
    )


@lru_cache(maxsize=1_024)
def _calendar(
    timezone: str,
    week: tuple[tuple[str, str], ...],
    holidays: tuple[str, ...],
    extra_working_days: tuple[str, ...],
    extra_day_hours: str,
) -> BusinessCalendar:
    return BusinessCalendar.from_spec(
        timezone,
        dict(week),
        holidays=[date.fromisoformat(d) for d in holidays],
        extra_working_days=[date.fromisoformat(d) for d in extra_working_days],
        extra_day_hours=extra_day_hours,
    )


# --- directory ---------------------------------------------------------------------------------


def department_to_doc(department: Department) -> Document:
    return {
        "name": dict(department.name),
        "parent_id": department.parent_id,
        "manager_id": department.manager_id,
        "calendar": calendar_to_doc(department.calendar),
    }


def department_from_doc(doc: Document) -> Department:
    return Department(
        id=doc["_id"],
        name=doc["name"],
        calendar=calendar_from_doc(doc["calendar"]),
        parent_id=doc.get("parent_id"),
        manager_id=doc.get("manager_id"),
    )


def person_to_doc(person: Person) -> Document:
    return {
        "name": person.name,
        "department_id": person.department_id,
        "roles": sorted(str(r) for r in person.roles),
        "locale": person.locale,
        "active": person.active,
    }


def person_from_doc(doc: Document) -> Person:
    return Person(
        id=doc["_id"],
        name=doc["name"],
        department_id=doc["department_id"],
        roles=frozenset(Role(r) for r in doc["roles"]),
        locale=doc.get("locale", "en"),
        active=doc.get("active", True),
    )


# --- catalog -----------------------------------------------------------------------------------


def _optional_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def field_to_doc(f: FormField) -> Document:
    doc: Document = {"name": f.name, "label": dict(f.label), "required": f.required}
    match f:
        case TextField():
            doc.update(type="text", min_length=f.min_length, max_length=f.max_length)
        case NumberField():
            doc.update(type="number", minimum=f.minimum, maximum=f.maximum, integer=f.integer)
        case ChoiceField():
            doc.update(type="choice", options=list(f.options), multiple=f.multiple)
        case DateField():
            doc.update(
                type="date", earliest=_optional_date(f.earliest), latest=_optional_date(f.latest)
            )
        case PersonField():
            doc.update(type="person")
    return doc


def field_from_doc(doc: Document) -> FormField:
    common: dict[str, Any] = {
        "name": doc["name"],
        "label": doc.get("label", {}),
        "required": doc.get("required", False),
    }
    match doc["type"]:
        case "text":
            return TextField(**common, min_length=doc["min_length"], max_length=doc["max_length"])
        case "number":
            return NumberField(
                **common, minimum=doc["minimum"], maximum=doc["maximum"], integer=doc["integer"]
            )
        case "choice":
            return ChoiceField(**common, options=tuple(doc["options"]), multiple=doc["multiple"])
        case "date":
            earliest, latest = doc.get("earliest"), doc.get("latest")
            return DateField(
                **common,
                earliest=date.fromisoformat(earliest) if earliest else None,
                latest=date.fromisoformat(latest) if latest else None,
            )
        case "person":
            return PersonField(**common)
    raise ValueError(f"unknown stored field type {doc['type']!r}")


def targets_to_doc(targets: Any) -> Document:
    return {
        str(p): {
            "first_response_seconds": int(t.first_response.total_seconds()),
            "resolution_seconds": int(t.resolution.total_seconds()),
        }
        for p, t in targets.items()
    }


def targets_from_doc(doc: Document) -> dict[Priority, Targets]:
    return {
        Priority(p): Targets(
            timedelta(seconds=t["first_response_seconds"]),
            timedelta(seconds=t["resolution_seconds"]),
        )
        for p, t in doc.items()
    }


def catalog_item_to_doc(item: CatalogItem) -> Document:
    """Everything but `_id` and `version`, which the outbox write owns."""
    return {
        "provider_department_id": item.provider_department_id,
        "name": dict(item.name),
        "description": dict(item.description),
        "owning_team": item.owning_team,
        "fields": [field_to_doc(f) for f in item.fields],
        "default_priority": str(item.default_priority),
        "targets": targets_to_doc(item.targets),
        "ola": [
            {
                "consumer_department_id": o.consumer_department_id,
                "effective_from": o.effective_from.isoformat(),
                "targets": targets_to_doc(o.targets),
            }
            for o in item.ola
        ],
        "allow_resolve_with_open_children": item.allow_resolve_with_open_children,
        "active": item.active,
        "published_at": item.published_at,
    }


def catalog_item_from_doc(doc: Document, *, item_id: str, version: int) -> CatalogItem:
    return CatalogItem(
        id=item_id,
        version=version,
        provider_department_id=doc["provider_department_id"],
        name=doc["name"],
        owning_team=doc["owning_team"],
        targets=targets_from_doc(doc["targets"]),
        description=doc.get("description", {}),
        fields=tuple(field_from_doc(f) for f in doc.get("fields", [])),
        default_priority=Priority(doc["default_priority"]),
        ola=tuple(
            OlaOverride(
                consumer_department_id=o["consumer_department_id"],
                effective_from=date.fromisoformat(o["effective_from"]),
                targets=targets_from_doc(o["targets"]),
            )
            for o in doc.get("ola", [])
        ),
        allow_resolve_with_open_children=doc.get("allow_resolve_with_open_children", False),
        active=doc.get("active", True),
        published_at=doc.get("published_at"),
    )
