"""The service catalog: what a department provides, its request form and its SLA/OLA terms.

An item is immutable and versioned: publishing a change yields version + 1 and the old version
stays valid for the requests submitted under it.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from icr.contracts.requests import CatalogItemPublished, OlaTerms, SlaTargets
from icr.requests.domain.errors import InvalidInput
from icr.requests.domain.forms import (
    LOCALES,
    FormField,
    Localized,
    check_field_names,
    validate_form,
)


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Targets:
    """Business time allowed until first response and until resolution."""

    first_response: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        if self.first_response <= timedelta(0) or self.resolution <= timedelta(0):
            raise InvalidInput("SLA targets must be positive")

    def to_contract(self) -> SlaTargets:
        return SlaTargets(
            first_response_seconds=int(self.first_response.total_seconds()),
            resolution_seconds=int(self.resolution.total_seconds()),
        )


@dataclass(frozen=True)
class OlaOverride:
    """Terms agreed with one consuming department from `effective_from` on. Priorities it does
    not list keep the item's own targets."""

    consumer_department_id: str
    effective_from: date
    targets: Mapping[Priority, Targets]

    def to_contract(self) -> OlaTerms:
        return OlaTerms(
            consumer_department_id=self.consumer_department_id,
            effective_from=self.effective_from,
            targets={str(p): t.to_contract() for p, t in self.targets.items()},
        )


def _check_localized(what: str, text: Localized, *, required: bool) -> None:
    unknown = set(text) - set(LOCALES)
    if unknown:
        raise InvalidInput(f"{what}: unsupported locales {sorted(unknown)}; use {LOCALES}")
    if required and not any(v.strip() for v in text.values()):
        raise InvalidInput(f"{what} needs text in at least one of {LOCALES}")


@dataclass(frozen=True)
class CatalogItem:
    id: str
    version: int
    provider_department_id: str
    name: Localized
    owning_team: str
    targets: Mapping[Priority, Targets]
    description: Localized = field(default_factory=dict)
    fields: tuple[FormField, ...] = ()
    default_priority: Priority = Priority.MEDIUM
    ola: tuple[OlaOverride, ...] = ()
    allow_resolve_with_open_children: bool = False
    active: bool = True
    published_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.version < 1:
            raise InvalidInput("catalog item versions start at 1")
        _check_localized("name", self.name, required=True)
        _check_localized("description", self.description, required=False)
        check_field_names(self.fields)
        # Every priority needs targets, so a request can never be submitted without a clock.
        missing = [p for p in Priority if p not in self.targets]
        if missing:
            raise InvalidInput(f"targets missing for priorities {[str(p) for p in missing]}")
        keys = [(o.consumer_department_id, o.effective_from) for o in self.ola]
        if len(set(keys)) != len(keys):
            raise InvalidInput("two OLA overrides for one consumer take effect on the same date")

    def targets_for(
        self, priority: Priority, consumer_department_id: str, at: date | datetime
    ) -> Targets:
        """The item's targets, or the latest OLA override for this consumer in effect on `at`
        (a datetime is taken as its own local date; pass the provider's local date)."""
        on = at.date() if isinstance(at, datetime) else at
        in_effect = [
            o
            for o in self.ola
            if o.consumer_department_id == consumer_department_id
            and o.effective_from <= on
            and priority in o.targets
        ]
        if in_effect:
            return max(in_effect, key=lambda o: o.effective_from).targets[priority]
        return self.targets[priority]

    def validate_form(
        self, values: Mapping[str, Any], *, known_people: Container[str] | None = None
    ) -> dict[str, Any]:
        """Cleaned values, or FormInvalid listing each bad field with its own message."""
        return validate_form(self.fields, values, known_people=known_people)

    def publish_change(self, *, at: datetime, **changes: Any) -> CatalogItem:
        """A new version with `changes` applied; identity and provider cannot change."""
        frozen = {"id", "version", "provider_department_id", "published_at"}
        names = {f.name for f in fields(self)}
        bad = sorted(set(changes) - (names - frozen))
        if bad:
            raise InvalidInput(f"cannot change {bad} of a catalog item")
        return replace(self, version=self.version + 1, published_at=at, **changes)

    def published_event(self) -> CatalogItemPublished:
        if self.published_at is None:
            raise InvalidInput("catalog item has not been published")
        return CatalogItemPublished(
            catalog_item_id=self.id,
            version=self.version,
            provider_department_id=self.provider_department_id,
            name=dict(self.name),
            description=dict(self.description),
            default_priority=str(self.default_priority),
            owning_team=self.owning_team,
            targets={str(p): t.to_contract() for p, t in self.targets.items()},
            ola=[o.to_contract() for o in self.ola],
            field_names=[f.name for f in self.fields],
            active=self.active,
            allow_resolve_with_open_children=self.allow_resolve_with_open_children,
            published_at=self.published_at,
        )
