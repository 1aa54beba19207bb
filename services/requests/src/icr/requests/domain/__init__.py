"""The pure domain of the requests service: directory, catalog, business calendars, SLA clocks,
the ServiceRequest aggregate and access rules. It imports no framework or driver; aggregates
record `icr.contracts` events directly."""

from icr.requests.domain.access import (
    Actor,
    Visibility,
    authorize,
    can_change,
    can_manage_catalog,
    can_manage_directory,
    can_see,
    can_see_internal_notes,
    is_provider_side,
    visibility,
)
from icr.requests.domain.calendar import BusinessCalendar, TimeRange
from icr.requests.domain.catalog import CatalogItem, OlaOverride, Priority, Targets
from icr.requests.domain.directory import Department, Person, Role, check_hierarchy
from icr.requests.domain.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    FormInvalid,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from icr.requests.domain.forms import (
    ChoiceField,
    DateField,
    FormField,
    NumberField,
    PersonField,
    TextField,
)
from icr.requests.domain.lifecycle import (
    DEFAULT_POLICY,
    TRANSITIONS,
    Action,
    LifecyclePolicy,
    Status,
)
from icr.requests.domain.request import ServiceRequest
from icr.requests.domain.sla import ClockKind, Pause, SlaClock, SlaSnapshot
from icr.requests.domain.timeline import SYSTEM, Comment, HistoryEntry

__all__ = [
    "DEFAULT_POLICY",
    "SYSTEM",
    "TRANSITIONS",
    "Action",
    "Actor",
    "BusinessCalendar",
    "CatalogItem",
    "ChoiceField",
    "ClockKind",
    "Comment",
    "Conflict",
    "DateField",
    "Department",
    "DomainError",
    "FieldError",
    "Forbidden",
    "FormField",
    "FormInvalid",
    "HistoryEntry",
    "IllegalTransition",
    "InvalidInput",
    "LifecyclePolicy",
    "NotFound",
    "NumberField",
    "OlaOverride",
    "Pause",
    "Person",
    "PersonField",
    "Priority",
    "Role",
    "ServiceRequest",
    "SlaClock",
    "SlaSnapshot",
    "Status",
    "Targets",
    "TextField",
    "TimeRange",
    "Visibility",
    "authorize",
    "can_change",
    "can_manage_catalog",
    "can_manage_directory",
    "can_see",
    "can_see_internal_notes",
    "check_hierarchy",
    "is_provider_side",
    "visibility",
]
