"""The event envelope and the base class every event contract extends.

An event travels as an `Envelope` (JSON) on a Kafka topic, keyed by its aggregate id so one
aggregate's events stay in order on one partition. The envelope's `data` is the typed event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from icr.contracts.topics import Topic


def new_id() -> str:
    """A new random id as a string (used for event, request and trace ids)."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of all event payloads. Subclasses set the class variables below.

    `event_type` and `event_version` identify the contract; `topic` is where it is published;
    `aggregate_field` names the field whose value is the aggregate id (the Kafka key).
    Adding a field with a default is compatible; anything else is a new version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[Topic]
    aggregate_field: ClassVar[str]

    def aggregate_id(self) -> str:
        return str(getattr(self, self.aggregate_field))


class Envelope(BaseModel):
    """What goes on the wire. `data` is the event payload as JSON-compatible values."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(default_factory=new_id)
    type: str
    version: int
    source: str = Field(description="Producing service, e.g. 'requests'.")
    aggregate_id: str = Field(description="Kafka message key; keeps one aggregate in order.")
    time: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = Field(
        default=None, description="Id shared by every event of one business flow."
    )
    causation_id: str | None = Field(
        default=None, description="Id of the event or command that caused this event."
    )
    sequence: int | None = Field(
        default=None,
        ge=1,
        description="Position of this event among its aggregate's events: 1, 2, 3, ... with no "
        "gaps, in the order they were written; assigned when the event is first published and "
        "kept when it is published again. A consumer that last saw n and now gets n + 1 is in "
        "step; more than n + 1 means it missed events; n or less is a duplicate or stale.",
    )
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        source: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
        sequence: int | None = None,
    ) -> Envelope:
        return cls(
            event_id=event_id or new_id(),
            type=event.event_type,
            version=event.event_version,
            source=source,
            aggregate_id=event.aggregate_id(),
            time=time or utcnow(),
            correlation_id=correlation_id,
            causation_id=causation_id,
            sequence=sequence,
            data=event.model_dump(mode="json"),
        )
