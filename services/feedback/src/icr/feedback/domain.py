"""Ratings of service requests by their requesters. Imports no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from icr.contracts import Event
from icr.contracts.feedback import RatingRequested


class RatingStatus(StrEnum):
    PENDING = "pending"


@dataclass
class Rating:
    """One request's rating: only its requester rates it, once."""

    request_id: str
    rater_id: str
    provider_department_id: str
    requested_at: datetime
    status: RatingStatus = RatingStatus.PENDING
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def request(
        cls, *, request_id: str, rater_id: str, provider_department_id: str, at: datetime
    ) -> Rating:
        rating = cls(request_id, rater_id, provider_department_id, requested_at=at)
        rating.events.append(
            RatingRequested(
                request_id=request_id,
                rater_id=rater_id,
                provider_department_id=provider_department_id,
                requested_at=at,
            )
        )
        return rating
