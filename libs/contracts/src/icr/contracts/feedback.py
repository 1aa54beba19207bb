"""Events published by the feedback service (ratings, evaluations, department scores)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from icr.contracts.base import Event
from icr.contracts.registry import registry
from icr.contracts.topics import RATINGS, Topic


class RatingEvent(Event):
    topic: ClassVar[Topic] = RATINGS
    aggregate_field: ClassVar[str] = "request_id"

    request_id: str


class RatingRequested(RatingEvent):
    """The requester of a resolved request was invited to rate it (the invitation expires at
    `expires_at`; a reminder comes before)."""

    event_type: ClassVar[str] = "feedback.rating.requested"

    rater_id: str
    provider_department_id: str
    requested_at: datetime
    requester_department_id: str = ""
    assignee_id: str | None = None
    expires_at: datetime | None = None


class RatingSkipped(RatingEvent):
    """No invitation for this resolution. `reason`: "same_department" (the requester belongs to
    the provider), "fatigue_cap" (invited too often this period) or "sampled_out". No rating
    will come, so rules waiting for one settle now."""

    event_type: ClassVar[str] = "feedback.rating.skipped"

    rater_id: str
    provider_department_id: str
    assignee_id: str | None = None
    reason: str
    skipped_at: datetime


class RatingReminderDue(RatingEvent):
    """The invitation is still open and will expire soon: a notifier may remind the rater."""

    event_type: ClassVar[str] = "feedback.rating.reminder_due"

    rater_id: str
    expires_at: datetime
    reminded_at: datetime


class RatingSubmitted(RatingEvent):
    """The requester rated the request: `stars` 1 to 5, optional `dimensions` (responsiveness,
    quality, communication), each 1 to 5."""

    event_type: ClassVar[str] = "feedback.rating.submitted"

    rater_id: str
    rater_department_id: str
    provider_department_id: str
    assignee_id: str | None = None
    stars: int
    comment: str | None = None
    dimensions: dict[str, int] = {}
    submitted_at: datetime


class RatingChanged(RatingEvent):
    """The rater changed their rating within the change window; `stars` is the new value."""

    event_type: ClassVar[str] = "feedback.rating.changed"

    rater_id: str
    rater_department_id: str
    provider_department_id: str
    assignee_id: str | None = None
    stars: int
    previous_stars: int
    comment: str | None = None
    dimensions: dict[str, int] = {}
    changed_at: datetime


class RatingExpired(RatingEvent):
    """The invitation expired unanswered: no rating will come for this resolution."""

    event_type: ClassVar[str] = "feedback.rating.expired"

    rater_id: str
    provider_department_id: str
    assignee_id: str | None = None
    expired_at: datetime


class RecoveryNeeded(RatingEvent):
    """A rating of 2 stars or less: the provider department's manager should recover the
    relationship (the requests service opens a recovery request)."""

    event_type: ClassVar[str] = "feedback.rating.recovery_needed"

    rater_id: str
    rater_department_id: str
    provider_department_id: str
    assignee_id: str | None = None
    stars: int
    comment: str | None = None
    raised_at: datetime


registry.register(
    RatingRequested,
    RatingSkipped,
    RatingReminderDue,
    RatingSubmitted,
    RatingChanged,
    RatingExpired,
    RecoveryNeeded,
)
