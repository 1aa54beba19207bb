"""Events published by the requests service (directory, catalog, requests, SLA clocks).

Statuses, priorities, roles and clock names travel as plain strings: contracts never import a
service's domain, and consumers must tolerate values they do not know yet.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from icr.contracts.base import Event
from icr.contracts.registry import registry
from icr.contracts.topics import CATALOG, DIRECTORY, REQUESTS, Topic

# --- directory ---------------------------------------------------------------------------------


class DepartmentUpserted(Event):
    """A department was created or changed (bulk import or administration)."""

    event_type: ClassVar[str] = "requests.department.upserted"
    topic: ClassVar[Topic] = DIRECTORY
    aggregate_field: ClassVar[str] = "department_id"

    department_id: str
    name: dict[str, str]
    parent_id: str | None = None
    manager_id: str | None = None
    time_zone: str = "UTC"
    upserted_at: datetime


class PersonUpserted(Event):
    """A person was created or changed; `roles` is a subset of employee, agent, manager, admin."""

    event_type: ClassVar[str] = "requests.person.upserted"
    topic: ClassVar[Topic] = DIRECTORY
    aggregate_field: ClassVar[str] = "person_id"

    person_id: str
    name: str
    department_id: str
    roles: list[str]
    locale: str = "en"
    active: bool = True
    upserted_at: datetime


# --- catalog -----------------------------------------------------------------------------------


class SlaTargets(BaseModel):
    """Targets of one priority, in business seconds of the provider's calendar."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    first_response_seconds: int
    resolution_seconds: int


class OlaTerms(BaseModel):
    """Targets agreed with one consuming department, from a date on (priorities it omits keep
    the item's targets)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    consumer_department_id: str
    effective_from: date
    targets: dict[str, SlaTargets]


class CatalogItemPublished(Event):
    """A catalog item was published; every change is a new version with its own event."""

    event_type: ClassVar[str] = "requests.catalog_item.published"
    topic: ClassVar[Topic] = CATALOG
    aggregate_field: ClassVar[str] = "catalog_item_id"

    catalog_item_id: str
    version: int
    provider_department_id: str
    name: dict[str, str]
    description: dict[str, str] = {}
    default_priority: str
    owning_team: str
    targets: dict[str, SlaTargets]
    ola: list[OlaTerms] = []
    field_names: list[str] = []
    active: bool = True
    allow_resolve_with_open_children: bool = False
    published_at: datetime


# --- requests ----------------------------------------------------------------------------------


class RequestEvent(Event):
    topic: ClassVar[Topic] = REQUESTS
    aggregate_field: ClassVar[str] = "request_id"

    request_id: str


class RequestSubmitted(RequestEvent):
    """An internal customer submitted a service request to a provider department."""

    event_type: ClassVar[str] = "requests.request.submitted"

    title: str
    catalog_item_id: str
    catalog_item_version: int
    requester_id: str
    requester_department_id: str
    provider_department_id: str
    priority: str
    submitted_at: datetime
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    parent_request_id: str | None = None
    owning_team: str | None = None
    recovery_for_request_id: str | None = None
    """Set on a recovery request the service opened after a low rating of that request."""


class RequestAccepted(RequestEvent):
    """The provider accepted the request; `first_response_met` is None if that clock still runs."""

    event_type: ClassVar[str] = "requests.request.accepted"

    accepted_by: str
    accepted_at: datetime
    first_response_met: bool | None = None
    first_response_seconds: int | None = None


class RequestAssigned(RequestEvent):
    event_type: ClassVar[str] = "requests.request.assigned"

    assignee_id: str
    previous_assignee_id: str | None = None
    assigned_by: str
    assigned_at: datetime


class RequestStatusChanged(RequestEvent):
    """Recorded on every status change, next to the action's own event, for live views."""

    event_type: ClassVar[str] = "requests.request.status_changed"

    from_status: str
    to_status: str
    action: str
    changed_by: str
    changed_at: datetime


class RequestCommented(RequestEvent):
    """A public comment; internal notes never leave the service."""

    event_type: ClassVar[str] = "requests.request.commented"

    comment_id: str
    author_id: str
    body: str
    commented_at: datetime


class RequestWaiting(RequestEvent):
    """The provider asked the requester something; the resolution clock is paused."""

    event_type: ClassVar[str] = "requests.request.waiting"

    asked_by: str
    question: str
    waiting_since: datetime


class RequestResumed(RequestEvent):
    """The requester replied; the resolution clock runs again."""

    event_type: ClassVar[str] = "requests.request.resumed"

    resumed_by: str
    resumed_at: datetime


class RequestResolved(RequestEvent):
    """The provider resolved the request. Durations are business seconds, pauses excluded."""

    event_type: ClassVar[str] = "requests.request.resolved"

    resolved_by: str
    resolved_at: datetime
    note: str
    assignee_id: str | None = None
    provider_department_id: str
    requester_id: str
    requester_department_id: str
    first_response_met: bool
    resolution_met: bool
    first_response_seconds: int
    resolution_seconds: int
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    reopen_count: int = 0


class RequestClosed(RequestEvent):
    event_type: ClassVar[str] = "requests.request.closed"

    closed_by: str
    closed_at: datetime
    automatic: bool = False
    assignee_id: str | None = None
    provider_department_id: str
    requester_id: str


class RequestReopened(RequestEvent):
    """The requester reopened a resolved request (points for its resolution are clawed back)."""

    event_type: ClassVar[str] = "requests.request.reopened"

    reopened_by: str
    reopened_at: datetime
    reason: str
    assignee_id: str | None = None
    provider_department_id: str
    reopen_count: int


class RequestRejected(RequestEvent):
    event_type: ClassVar[str] = "requests.request.rejected"

    rejected_by: str
    rejected_at: datetime
    reason: str


class RequestCancelled(RequestEvent):
    event_type: ClassVar[str] = "requests.request.cancelled"

    cancelled_by: str
    cancelled_at: datetime
    reason: str = ""


class SlaWarning(RequestEvent):
    """Time left on a clock fell to the warning share of its target. `clock` is
    "first_response" or "resolution"."""

    event_type: ClassVar[str] = "requests.sla.warning"

    clock: str
    due_at: datetime
    remaining_seconds: int
    warned_at: datetime
    provider_department_id: str
    assignee_id: str | None = None


class SlaBreached(RequestEvent):
    """A clock passed its due time before it was stopped."""

    event_type: ClassVar[str] = "requests.sla.breached"

    clock: str
    due_at: datetime
    breached_at: datetime
    provider_department_id: str
    assignee_id: str | None = None


registry.register(
    DepartmentUpserted,
    PersonUpserted,
    CatalogItemPublished,
    RequestSubmitted,
    RequestAccepted,
    RequestAssigned,
    RequestStatusChanged,
    RequestCommented,
    RequestWaiting,
    RequestResumed,
    RequestResolved,
    RequestClosed,
    RequestReopened,
    RequestRejected,
    RequestCancelled,
    SlaWarning,
    SlaBreached,
)
