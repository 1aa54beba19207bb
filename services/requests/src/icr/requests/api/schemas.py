"""HTTP input shapes and their mapping to domain objects (the API's own shape, on purpose)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from icr.requests.domain.calendar import BusinessCalendar
from icr.requests.domain.catalog import CatalogItem, OlaOverride, Priority, Targets
from icr.requests.domain.directory import Department, Person, Role
from icr.requests.domain.errors import FieldError, FormInvalid, InvalidInput
from icr.requests.domain.forms import (
    ChoiceField,
    DateField,
    FormField,
    NumberField,
    PersonField,
    TextField,
)

# Ids are plain tokens: nothing that could read as a query operator or a path.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Locale = Literal["en", "zh-CN"]
Localized = dict[Locale, Annotated[str, Field(max_length=2000)]]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Text = Annotated[str, Field(max_length=10_000)]
MAX_MINUTES = 366 * 24 * 60


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _plain(mapping: dict[Any, str]) -> dict[str, str]:
    return {str(k): v for k, v in mapping.items()}


def _invalid(field: str, exc: InvalidInput) -> FormInvalid:
    return FormInvalid([FieldError(field, "invalid", str(exc))])


# --- directory ---------------------------------------------------------------------------------


class CalendarIn(Strict):
    timezone: str = Field(examples=["Asia/Shanghai"])
    week: dict[Weekday, str] = Field(
        description='Working ranges per weekday, e.g. {"mon": "09:00-12:00,13:00-18:00"}; '
        "a missing day is a day off."
    )
    holidays: list[date] = Field(default_factory=list, max_length=2000)
    extra_working_days: list[date] = Field(default_factory=list, max_length=2000)
    extra_day_hours: str = ""

    def to_domain(self) -> BusinessCalendar:
        try:
            return BusinessCalendar.from_spec(
                self.timezone,
                _plain(self.week),
                holidays=self.holidays,
                extra_working_days=self.extra_working_days,
                extra_day_hours=self.extra_day_hours,
            )
        except InvalidInput as exc:
            raise _invalid("calendar", exc) from None

    @classmethod
    def of(cls, calendar: BusinessCalendar) -> CalendarIn:
        return cls(
            timezone=calendar.timezone,
            week={k: v for k, v in calendar.spec().items() if v},
            holidays=sorted(calendar.holidays),
            extra_working_days=sorted(calendar.extra_working_days),
            extra_day_hours=",".join(map(str, calendar.extra_day_hours)),
        )


class DepartmentIn(Strict):
    name: Localized
    parent_id: Id | None = None
    manager_id: Id | None = None
    calendar: CalendarIn

    def to_domain(self, department_id: str) -> Department:
        calendar = self.calendar.to_domain()
        try:
            return Department(
                id=department_id,
                name=_plain(self.name),
                calendar=calendar,
                parent_id=self.parent_id,
                manager_id=self.manager_id,
            )
        except InvalidInput as exc:
            raise _invalid("name", exc) from None


class PersonIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    department_id: Id
    roles: list[Role] = Field(default_factory=lambda: [Role.EMPLOYEE], min_length=1)
    locale: Locale = "en"
    active: bool = True

    def to_domain(self, person_id: str) -> Person:
        try:
            return Person(
                id=person_id,
                name=self.name,
                department_id=self.department_id,
                roles=frozenset(self.roles),
                locale=self.locale,
                active=self.active,
            )
        except InvalidInput as exc:
            raise _invalid("name", exc) from None


# --- catalog -----------------------------------------------------------------------------------


class _FieldIn(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")]
    label: Localized = Field(default_factory=dict)
    required: bool = False


class TextFieldIn(_FieldIn):
    type: Literal["text"]
    min_length: int = Field(default=0, ge=0)
    max_length: int = Field(default=2000, ge=1, le=10_000)


class NumberFieldIn(_FieldIn):
    type: Literal["number"]
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False


class ChoiceFieldIn(_FieldIn):
    type: Literal["choice"]
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=200
    )
    multiple: bool = False


class DateFieldIn(_FieldIn):
    type: Literal["date"]
    earliest: date | None = None
    latest: date | None = None


class PersonFieldIn(_FieldIn):
    type: Literal["person"]


FieldIn = Annotated[
    TextFieldIn | NumberFieldIn | ChoiceFieldIn | DateFieldIn | PersonFieldIn,
    Field(discriminator="type"),
]


def field_to_domain(f: FieldIn) -> FormField:
    common: dict[str, Any] = {"name": f.name, "label": _plain(f.label), "required": f.required}
    match f:
        case TextFieldIn():
            return TextField(**common, min_length=f.min_length, max_length=f.max_length)
        case NumberFieldIn():
            return NumberField(**common, minimum=f.minimum, maximum=f.maximum, integer=f.integer)
        case ChoiceFieldIn():
            return ChoiceField(**common, options=tuple(f.options), multiple=f.multiple)
        case DateFieldIn():
            return DateField(**common, earliest=f.earliest, latest=f.latest)
        case PersonFieldIn():
            return PersonField(**common)
    raise AssertionError(f"unhandled field {f!r}")


def field_from_domain(f: FormField) -> FieldIn:
    common: dict[str, Any] = {"name": f.name, "label": dict(f.label), "required": f.required}
    match f:
        case TextField():
            return TextFieldIn(
                type="text", **common, min_length=f.min_length, max_length=f.max_length
            )
        case NumberField():
            return NumberFieldIn(
                type="number", **common, minimum=f.minimum, maximum=f.maximum, integer=f.integer
            )
        case ChoiceField():
            return ChoiceFieldIn(
                type="choice", **common, options=list(f.options), multiple=f.multiple
            )
        case DateField():
            return DateFieldIn(type="date", **common, earliest=f.earliest, latest=f.latest)
        case PersonField():
            return PersonFieldIn(type="person", **common)
    raise AssertionError(f"unhandled field {f!r}")


class TargetsIn(Strict):
    first_response_minutes: int = Field(gt=0, le=MAX_MINUTES)
    resolution_minutes: int = Field(gt=0, le=MAX_MINUTES)

    def to_domain(self) -> Targets:
        return Targets(
            timedelta(minutes=self.first_response_minutes),
            timedelta(minutes=self.resolution_minutes),
        )

    @classmethod
    def of(cls, targets: Targets) -> TargetsIn:
        return cls(
            first_response_minutes=int(targets.first_response.total_seconds() // 60),
            resolution_minutes=int(targets.resolution.total_seconds() // 60),
        )


class OlaIn(Strict):
    consumer_department_id: Id
    effective_from: date
    targets: dict[Priority, TargetsIn] = Field(min_length=1)


class CatalogItemIn(Strict):
    provider_department_id: Id
    name: Localized
    description: Localized = Field(default_factory=dict)
    owning_team: Annotated[str, Field(min_length=1, max_length=200)]
    fields: list[FieldIn] = Field(default_factory=list, max_length=50)
    default_priority: Priority = Priority.MEDIUM
    targets: dict[Priority, TargetsIn] = Field(
        description="First response and resolution targets in business minutes, per priority "
        "(all four priorities)."
    )
    ola: list[OlaIn] = Field(default_factory=list, max_length=500)
    allow_resolve_with_open_children: bool = False
    active: bool = True

    def to_domain(self, item_id: str) -> CatalogItem:
        """A draft; the handler decides its version and publication time."""
        missing = [str(p) for p in Priority if p not in self.targets]
        if missing:
            message = f"targets are needed for every priority; missing {missing}"
            raise FormInvalid([FieldError("targets", "missing", message)])
        try:
            return CatalogItem(
                id=item_id,
                version=1,
                provider_department_id=self.provider_department_id,
                name=_plain(self.name),
                owning_team=self.owning_team,
                targets={p: t.to_domain() for p, t in self.targets.items()},
                description=_plain(self.description),
                fields=tuple(field_to_domain(f) for f in self.fields),
                default_priority=self.default_priority,
                ola=tuple(
                    OlaOverride(
                        consumer_department_id=o.consumer_department_id,
                        effective_from=o.effective_from,
                        targets={p: t.to_domain() for p, t in o.targets.items()},
                    )
                    for o in self.ola
                ),
                allow_resolve_with_open_children=self.allow_resolve_with_open_children,
                active=self.active,
            )
        except InvalidInput as exc:
            raise FormInvalid([FieldError("item", "invalid", str(exc))]) from None


# --- requests ----------------------------------------------------------------------------------


class SubrequestIn(Strict):
    catalog_item_id: Annotated[str, Field(max_length=128)]
    # Title and form are checked by the domain, so every field's problem is reported at once.
    title: Annotated[str, Field(max_length=10_000)] = ""
    priority: str | None = None
    form: dict[str, Any] = Field(default_factory=dict, max_length=200)
    description: Text = ""


class SubmitIn(SubrequestIn):
    parent_id: Annotated[str, Field(max_length=128)] | None = None


class AssignIn(Strict):
    assignee_id: Id


class AskIn(Strict):
    question: Text


class ReplyIn(Strict):
    message: Text = ""


class ResolveIn(Strict):
    note: Text


class ReasonIn(Strict):
    reason: Text


class CancelIn(Strict):
    reason: Text = ""


class BodyIn(Strict):
    body: Text
