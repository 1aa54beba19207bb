"""Catalog items: form validation field by field, OLA overrides, versioned publishing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from icr.contracts import Envelope, registry
from icr.contracts.requests import CatalogItemPublished
from icr.requests.domain import (
    CatalogItem,
    ChoiceField,
    DateField,
    FieldError,
    FormInvalid,
    InvalidInput,
    NumberField,
    OlaOverride,
    PersonField,
    Priority,
    Targets,
    TextField,
)

MakeItem = Callable[..., CatalogItem]
H = timedelta(hours=1)

FIELDS = (
    TextField(name="summary", required=True, min_length=5, max_length=20),
    TextField(name="notes"),
    NumberField(name="count", required=True, minimum=1, maximum=10, integer=True),
    NumberField(name="budget", minimum=0.5),
    ChoiceField(name="model", options=("air", "pro"), required=True),
    ChoiceField(name="extras", options=("dock", "mouse", "bag"), multiple=True),
    DateField(name="needed_by", earliest=date(2024, 1, 1), latest=date(2024, 12, 31)),
    PersonField(name="for_person"),
)
VALID = {"summary": "New laptop", "count": 2, "model": "pro"}


def errors_of(item: CatalogItem, values: dict[str, Any], **kw: Any) -> list[FieldError]:
    with pytest.raises(FormInvalid) as info:
        item.validate_form(values, **kw)
    return info.value.errors


def codes(errors: list[FieldError]) -> dict[str, str]:
    return {e.field: e.code for e in errors}


def test_valid_form_is_cleaned(make_item: MakeItem) -> None:
    item = make_item(fields=FIELDS)
    cleaned = item.validate_form(
        {
            **VALID,
            "summary": "  New laptop  ",
            "count": 3.0,
            "extras": ["mouse", "dock", "mouse"],
            "needed_by": "2024-07-01",
            "for_person": "ana",
            "notes": "",
        }
    )
    assert cleaned == {
        "summary": "New laptop",
        "count": 3,
        "model": "pro",
        "extras": ["dock", "mouse"],
        "needed_by": date(2024, 7, 1),
        "for_person": "ana",
    }
    assert isinstance(cleaned["count"], int)


def test_every_bad_field_gets_its_own_message(make_item: MakeItem) -> None:
    item = make_item(fields=FIELDS)
    errors = errors_of(
        item,
        {
            "summary": "hi",
            "count": 11,
            "model": "mini",
            "extras": ["dock", "cape"],
            "needed_by": "2025-01-01",
            "colour": "red",
        },
    )
    assert codes(errors) == {
        "colour": "unknown",
        "summary": "too_short",
        "count": "too_large",
        "model": "invalid_choice",
        "extras": "invalid_choice",
        "needed_by": "too_late",
    }
    assert len({e.message for e in errors}) == len(errors)
    assert all(e.message for e in errors)


def test_required_fields_missing_or_blank(make_item: MakeItem) -> None:
    errors = errors_of(make_item(fields=FIELDS), {"summary": "   ", "count": None})
    assert codes(errors) == {"summary": "required", "count": "required", "model": "required"}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("summary", 42, "type"),
        ("summary", "x" * 21, "too_long"),
        ("count", "3", "type"),
        ("count", True, "type"),
        ("count", 2.5, "not_integer"),
        ("count", 0, "too_small"),
        ("count", float("nan"), "type"),
        ("budget", 0.1, "too_small"),
        ("budget", 10**20, "too_large"),  # past BSON's 64-bit integers
        ("model", ["pro"], "type"),
        ("extras", "dock", "type"),
        ("needed_by", "next week", "type"),
        ("needed_by", datetime(2024, 5, 1, tzinfo=UTC), "type"),
        ("needed_by", "2023-12-31", "too_early"),
        ("needed_by", 20240101, "type"),
        ("for_person", 7, "type"),
    ],
)
def test_field_rules(make_item: MakeItem, field: str, value: Any, code: str) -> None:
    errors = errors_of(make_item(fields=FIELDS), {**VALID, field: value})
    assert [(e.field, e.code) for e in errors] == [(field, code)]


def test_person_field_checks_known_people_when_given(make_item: MakeItem) -> None:
    item = make_item(fields=FIELDS)
    assert item.validate_form({**VALID, "for_person": "ana"}, known_people={"ana"})
    errors = errors_of(item, {**VALID, "for_person": "ghost"}, known_people={"ana"})
    assert codes(errors) == {"for_person": "unknown_person"}


def test_required_multiple_choice_needs_one_option(make_item: MakeItem) -> None:
    item = make_item(
        fields=(ChoiceField(name="tags", options=("a", "b"), multiple=True, required=True),)
    )
    assert codes(errors_of(item, {"tags": []})) == {"tags": "required"}


def test_form_definitions_are_checked(make_item: MakeItem) -> None:
    with pytest.raises(InvalidInput, match="duplicate"):
        make_item(fields=(TextField(name="a"), TextField(name="a")))
    with pytest.raises(InvalidInput, match="distinct options"):
        ChoiceField(name="c", options=())
    with pytest.raises(InvalidInput, match="field name"):
        TextField(name="bad name")


def ola(consumer: str, effective: date, hours: float) -> OlaOverride:
    return OlaOverride(consumer, effective, {Priority.HIGH: Targets(hours * H, 10 * hours * H)})


def test_ola_override_applies_from_its_effective_date(make_item: MakeItem) -> None:
    item = make_item(
        ola=(
            ola("sales", date(2024, 7, 1), 1),
            ola("sales", date(2024, 9, 1), 2),
            ola("hr", date(2024, 1, 1), 8),
        )
    )
    default = item.targets[Priority.HIGH]
    assert item.targets_for(Priority.HIGH, "sales", date(2024, 6, 30)) == default
    assert item.targets_for(Priority.HIGH, "sales", date(2024, 7, 1)).first_response == H
    assert item.targets_for(Priority.HIGH, "sales", date(2024, 8, 31)).first_response == H
    assert item.targets_for(Priority.HIGH, "sales", date(2024, 9, 1)).first_response == 2 * H
    assert item.targets_for(Priority.HIGH, "hr", date(2024, 9, 1)).first_response == 8 * H
    # Other consumers and priorities the override does not list keep the item's targets.
    assert item.targets_for(Priority.HIGH, "legal", date(2024, 9, 1)) == default
    assert item.targets_for(Priority.LOW, "sales", date(2024, 9, 1)) == item.targets[Priority.LOW]
    # A datetime is taken as its own date.
    moment = datetime(2024, 7, 1, 0, 30, tzinfo=UTC)
    assert item.targets_for(Priority.HIGH, "sales", moment).first_response == H


def test_two_overrides_on_one_date_are_refused(make_item: MakeItem) -> None:
    with pytest.raises(InvalidInput, match="same date"):
        make_item(ola=(ola("sales", date(2024, 7, 1), 1), ola("sales", date(2024, 7, 1), 2)))


def test_every_priority_needs_targets(make_item: MakeItem) -> None:
    with pytest.raises(InvalidInput, match="targets missing"):
        make_item(targets={Priority.LOW: Targets(H, H)})


def test_names_are_localized(make_item: MakeItem) -> None:
    with pytest.raises(InvalidInput, match="unsupported locales"):
        make_item(name={"fr": "Portable"})
    with pytest.raises(InvalidInput, match="at least one"):
        make_item(name={"en": " "})


def test_publishing_a_change_creates_the_next_version(make_item: MakeItem) -> None:
    item = make_item()
    at = datetime(2024, 8, 1, tzinfo=UTC)
    changed = item.publish_change(at=at, owning_team="hardware", default_priority=Priority.HIGH)
    assert (changed.version, changed.owning_team, changed.published_at) == (2, "hardware", at)
    assert (item.version, item.owning_team) == (1, "it-desk")  # the old version is untouched
    with pytest.raises(InvalidInput, match="cannot change"):
        item.publish_change(at=at, provider_department_id="hr")
    with pytest.raises(InvalidInput, match="cannot change"):
        item.publish_change(at=at, colour="red")
    with pytest.raises(InvalidInput, match="targets missing"):
        item.publish_change(at=at, targets={})


def test_published_event_round_trips_through_the_envelope(make_item: MakeItem) -> None:
    item = make_item(ola=(ola("sales", date(2024, 7, 1), 1),))
    event = item.published_event()
    envelope = Envelope.wrap(event, source="requests")
    assert envelope.aggregate_id == "laptop"
    parsed = registry.parse(Envelope.model_validate_json(envelope.model_dump_json()))
    assert isinstance(parsed, CatalogItemPublished)
    assert parsed == event
    assert parsed.targets["high"].first_response_seconds == 4 * 3600
    assert parsed.ola[0].targets["high"].first_response_seconds == 3600
