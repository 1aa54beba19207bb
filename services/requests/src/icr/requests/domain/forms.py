"""Typed request-form fields and field-by-field validation.

Every problem is collected, not just the first, so a requester sees each field's own message.
Values arrive as JSON would carry them; dates may be ISO strings because JSON has no date type.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from icr.requests.domain.errors import FieldError, FormInvalid, InvalidInput

Localized = Mapping[str, str]
LOCALES = ("zh-CN", "en")


@dataclass(frozen=True, kw_only=True)
class _Field:
    name: str
    label: Localized = field(default_factory=dict)
    required: bool = False

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise InvalidInput(f"field name {self.name!r} must be letters, digits or _")

    def clean(self, value: Any, known_people: Container[str] | None) -> Any:
        """The cleaned value; raises _Bad(code, message)."""
        raise NotImplementedError


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


@dataclass(frozen=True, kw_only=True)
class TextField(_Field):
    min_length: int = 0
    max_length: int = 2000

    def clean(self, value: Any, known_people: Container[str] | None) -> str:
        if not isinstance(value, str):
            raise _Bad("type", "must be text")
        text = value.strip()
        if len(text) < self.min_length:
            raise _Bad("too_short", f"must be at least {self.min_length} characters")
        if len(text) > self.max_length:
            raise _Bad("too_long", f"must be at most {self.max_length} characters")
        return text


@dataclass(frozen=True, kw_only=True)
class NumberField(_Field):
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False

    def clean(self, value: Any, known_people: Container[str] | None) -> int | float:
        # bool is an int in Python but never a number a person typed.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad("type", "must be a number")
        number: int | float = value
        if isinstance(number, float) and not math.isfinite(number):
            raise _Bad("type", "must be a finite number")
        if self.integer:
            if isinstance(number, float) and not number.is_integer():
                raise _Bad("not_integer", "must be a whole number")
            number = int(number)
        # Stored as BSON, whose integers are 64-bit; beyond that is no one's real input.
        if isinstance(number, int) and not -(2**63) <= number < 2**63:
            raise _Bad("too_large", "is too large a number")
        if self.minimum is not None and number < self.minimum:
            raise _Bad("too_small", f"must be at least {_num(self.minimum)}")
        if self.maximum is not None and number > self.maximum:
            raise _Bad("too_large", f"must be at most {_num(self.maximum)}")
        return number


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True, kw_only=True)
class ChoiceField(_Field):
    options: tuple[str, ...]
    multiple: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.options or len(set(self.options)) != len(self.options):
            raise InvalidInput(f"choice field {self.name!r} needs distinct options")

    def clean(self, value: Any, known_people: Container[str] | None) -> str | list[str]:
        if self.multiple:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise _Bad("type", "must be a list of options")
            bad = [v for v in value if v not in self.options]
            if bad:
                raise _Bad("invalid_choice", f"unknown options {bad}; choose from {self._list()}")
            if self.required and not value:
                raise _Bad("required", "choose at least one option")
            return [o for o in self.options if o in value]  # option order, duplicates dropped
        if not isinstance(value, str):
            raise _Bad("type", "must be one option")
        if value not in self.options:
            raise _Bad("invalid_choice", f"must be one of {self._list()}")
        return value

    def _list(self) -> str:
        return ", ".join(self.options)


@dataclass(frozen=True, kw_only=True)
class DateField(_Field):
    earliest: date | None = None
    latest: date | None = None

    def clean(self, value: Any, known_people: Container[str] | None) -> date:
        if isinstance(value, datetime):
            raise _Bad("type", "must be a date without a time")
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                raise _Bad("type", "must be a date as YYYY-MM-DD") from None
        if not isinstance(value, date):
            raise _Bad("type", "must be a date as YYYY-MM-DD")
        if self.earliest is not None and value < self.earliest:
            raise _Bad("too_early", f"must be on or after {self.earliest.isoformat()}")
        if self.latest is not None and value > self.latest:
            raise _Bad("too_late", f"must be on or before {self.latest.isoformat()}")
        return value


@dataclass(frozen=True, kw_only=True)
class PersonField(_Field):
    """A person id; existence is checked when the caller passes the known ids."""

    def clean(self, value: Any, known_people: Container[str] | None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _Bad("type", "must be a person id")
        person_id = value.strip()
        if known_people is not None and person_id not in known_people:
            raise _Bad("unknown_person", f"no person with id {person_id!r}")
        return person_id


FormField = TextField | NumberField | ChoiceField | DateField | PersonField


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_form(
    fields: tuple[FormField, ...],
    values: Mapping[str, Any],
    *,
    known_people: Container[str] | None = None,
) -> dict[str, Any]:
    """Cleaned values (optional fields left blank are omitted) or FormInvalid with every error."""
    errors: list[FieldError] = []
    by_name = {f.name: f for f in fields}
    errors.extend(
        FieldError(name, "unknown", "is not a field of this form")
        for name in values
        if name not in by_name
    )
    cleaned: dict[str, Any] = {}
    for f in fields:
        value = values.get(f.name)
        if _is_blank(value):
            if f.required:
                errors.append(FieldError(f.name, "required", "is required"))
            continue
        try:
            cleaned[f.name] = f.clean(value, known_people)
        except _Bad as bad:
            errors.append(FieldError(f.name, bad.code, bad.message))
    if errors:
        raise FormInvalid(errors)
    return cleaned


def check_field_names(fields: tuple[FormField, ...]) -> None:
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"duplicate form fields: {duplicates}")
