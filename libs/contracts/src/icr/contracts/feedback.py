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
    """A pending rating was recorded for the requester of a service request."""

    event_type: ClassVar[str] = "feedback.rating.requested"

    rater_id: str
    provider_department_id: str
    requested_at: datetime


registry.register(RatingRequested)
