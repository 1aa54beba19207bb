"""A request's rating: the invitation, the requester's stars, the agent's clarity score and the
recovery loop. One aggregate per request id, so every event of a request is numbered in one
sequence (consumers order and deduplicate by it).

Decisions:
- Each resolution is a round (`resolution` = reopen count + 1). A later round replaces an
  unanswered invitation (new expiry, no second cap use, no event for the replaced one); after a
  rating the earlier rating stands and the new round is skipped ("already_rated"); after an
  expiry or a skip the new round is decided afresh.
- A change is allowed within `change_window` of the first submission, once or more; a rating
  that falls to the recovery threshold (first or by a change) raises recovery once per request.
- The recovery request's id is derived from the request id, so it is one per rating however
  often the event is delivered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from icr.contracts import Event
from icr.contracts.feedback import (
    ClarityRated,
    RatingChanged,
    RatingExpired,
    RatingReminderDue,
    RatingRequested,
    RatingSkipped,
    RatingSubmitted,
    RecoveryNeeded,
    RecoveryResolved,
)
from icr.feedback.domain.errors import Conflict, FieldError, Forbidden, InvalidInput, invalid
from icr.feedback.domain.policy import DIMENSIONS, FeedbackPolicy, SkipReason

RECOVERY_NAMESPACE = uuid.UUID("5b0f3c1e-8a45-4d0e-9a43-2f6c1f0d9e11")


class RatingStatus(StrEnum):
    INVITED = "invited"
    RATED = "rated"
    EXPIRED = "expired"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Resolution:
    """What the requests service told us about one resolution of a request."""

    request_id: str
    resolution: int
    requester_id: str
    requester_department_id: str
    provider_department_id: str
    assignee_id: str | None
    resolved_at: datetime


@dataclass(frozen=True)
class Answer:
    """What the requester gives: stars, and optionally a comment and dimension scores."""

    stars: int
    comment: str | None = None
    dimensions: dict[str, int] = field(default_factory=dict)


def recovery_request_id(request_id: str) -> str:
    return str(uuid.uuid5(RECOVERY_NAMESPACE, f"recovery:{request_id}"))


def check_stars(stars: int, field_name: str = "stars") -> list[FieldError]:
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        return [FieldError(field_name, "out_of_range", "must be a whole number from 1 to 5")]
    return []


def clean_answer(
    stars: int, comment: str | None, dimensions: dict[str, int], policy: FeedbackPolicy
) -> str | None:
    """The comment stripped (None if empty); InvalidInput listing every bad field."""
    errors = check_stars(stars)
    text = (comment or "").strip() or None
    if text is not None and len(text) > policy.comment_max:
        errors.append(
            FieldError("comment", "too_long", f"must be at most {policy.comment_max} characters")
        )
    for name, value in dimensions.items():
        if name not in DIMENSIONS:
            errors.append(
                FieldError(f"dimensions.{name}", "unknown", f"must be one of {sorted(DIMENSIONS)}")
            )
        else:
            errors += check_stars(value, f"dimensions.{name}")
    if errors:
        raise InvalidInput(errors)
    return text


@dataclass(eq=False)
class Rating:
    request_id: str
    resolution: int
    rater_id: str
    rater_department_id: str
    provider_department_id: str
    assignee_id: str | None
    status: RatingStatus
    requested_at: datetime
    expires_at: datetime | None = None
    remind_at: datetime | None = None
    reminded_at: datetime | None = None
    skip_reason: str | None = None
    stars: int | None = None
    comment: str | None = None
    dimensions: dict[str, int] = field(default_factory=dict)
    submitted_at: datetime | None = None
    changed_at: datetime | None = None
    expired_at: datetime | None = None
    clarity_stars: int | None = None
    clarity_by: str | None = None
    clarity_at: datetime | None = None
    recovery_request_id: str | None = None
    recovery_resolved_at: datetime | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    # --- invitations ----------------------------------------------------------------------------

    @classmethod
    def decide(cls, r: Resolution, policy: FeedbackPolicy, skip: SkipReason | None) -> Rating:
        """The first rating of a request: an invitation, or a skip with its reason."""
        rating = cls(
            r.request_id,
            r.resolution,
            r.requester_id,
            r.requester_department_id,
            r.provider_department_id,
            r.assignee_id,
            RatingStatus.SKIPPED,
            r.resolved_at,
        )
        if skip is None:
            rating._invite(r, policy)
        else:
            rating._skip(r, skip)
        return rating

    def is_new_round(self, r: Resolution) -> bool:
        """Whether `r` is a later resolution than the one this rating is about (a redelivered
        or stale resolution is not)."""
        return r.resolution > self.resolution

    def needs_decision(self) -> bool:
        """Whether a new round must go through eligibility, sampling and the cap again."""
        return self.status in (RatingStatus.EXPIRED, RatingStatus.SKIPPED)

    def next_round(self, r: Resolution, policy: FeedbackPolicy, skip: SkipReason | None) -> None:
        """A later resolution: an unanswered invitation is replaced, a given rating stands."""
        self.resolution, self.assignee_id = r.resolution, r.assignee_id
        if self.status is RatingStatus.RATED:
            self._skip(r, SkipReason.ALREADY_RATED, keep_rating=True)
        elif skip is not None:
            self._skip(r, skip)
        else:
            self._invite(r, policy)

    def _invite(self, r: Resolution, policy: FeedbackPolicy) -> None:
        self.status, self.skip_reason = RatingStatus.INVITED, None
        self.requested_at = r.resolved_at
        self.expires_at = r.resolved_at + policy.expiry
        self.remind_at = self.expires_at - policy.reminder_before
        self.reminded_at = self.expired_at = None
        self.events.append(
            RatingRequested(
                request_id=self.request_id,
                rater_id=self.rater_id,
                provider_department_id=self.provider_department_id,
                requested_at=r.resolved_at,
                requester_department_id=self.rater_department_id,
                assignee_id=self.assignee_id,
                expires_at=self.expires_at,
                resolution=self.resolution,
            )
        )

    def _skip(self, r: Resolution, reason: SkipReason, *, keep_rating: bool = False) -> None:
        if not keep_rating:
            self.status = RatingStatus.SKIPPED
            self.expires_at = self.remind_at = None
        self.skip_reason = reason.value
        self.events.append(
            RatingSkipped(
                request_id=self.request_id,
                rater_id=self.rater_id,
                provider_department_id=self.provider_department_id,
                assignee_id=self.assignee_id,
                reason=reason.value,
                skipped_at=r.resolved_at,
                resolution=self.resolution,
            )
        )

    # --- timers ---------------------------------------------------------------------------------

    @property
    def due_at(self) -> datetime | None:
        """When the timer must look at this rating next: the reminder, then the expiry."""
        if self.status is not RatingStatus.INVITED:
            return None
        if self.reminded_at is None and self.remind_at is not None:
            return self.remind_at
        return self.expires_at

    def on_due(self, now: datetime) -> None:
        """Remind once, then expire; a timer that fires early or twice changes nothing."""
        if self.status is not RatingStatus.INVITED or self.expires_at is None:
            return
        if now >= self.expires_at:
            self.status, self.expired_at = RatingStatus.EXPIRED, now
            self.events.append(
                RatingExpired(
                    request_id=self.request_id,
                    rater_id=self.rater_id,
                    provider_department_id=self.provider_department_id,
                    assignee_id=self.assignee_id,
                    expired_at=now,
                )
            )
        elif self.reminded_at is None and self.remind_at is not None and now >= self.remind_at:
            self.reminded_at = now
            self.events.append(
                RatingReminderDue(
                    request_id=self.request_id,
                    rater_id=self.rater_id,
                    expires_at=self.expires_at,
                    reminded_at=now,
                )
            )

    # --- the requester's rating -----------------------------------------------------------------

    def check_rater(self, person_id: str) -> None:
        if person_id != self.rater_id:
            raise Forbidden("only the requester who was invited may rate this request")

    def _about(self) -> dict[str, Any]:
        """What every rating event says about the rating."""
        return {
            "request_id": self.request_id,
            "rater_id": self.rater_id,
            "rater_department_id": self.rater_department_id,
            "provider_department_id": self.provider_department_id,
            "assignee_id": self.assignee_id,
            "requested_at": self.requested_at,
        }

    def _take(self, answer: Answer, comment: str | None) -> None:
        self.stars, self.comment, self.dimensions = answer.stars, comment, dict(answer.dimensions)

    def rate(self, *, by: str, answer: Answer, at: datetime, policy: FeedbackPolicy) -> None:
        self.check_rater(by)
        comment = clean_answer(answer.stars, answer.comment, answer.dimensions, policy)
        if self.status is RatingStatus.RATED:
            raise Conflict("this request was rated already; change the rating instead")
        if self.status is RatingStatus.SKIPPED:
            raise Conflict(f"no rating was asked for this request ({self.skip_reason})")
        if self.status is RatingStatus.EXPIRED or (self.expires_at and at >= self.expires_at):
            raise Conflict("the invitation to rate this request has expired")
        self._take(answer, comment)
        self.status, self.submitted_at = RatingStatus.RATED, at
        self.events.append(
            RatingSubmitted(
                **self._about(),
                stars=answer.stars,
                comment=self.comment,
                dimensions=self.dimensions,
                submitted_at=at,
            )
        )
        self._maybe_recover(at, policy)

    def change(self, *, by: str, answer: Answer, at: datetime, policy: FeedbackPolicy) -> None:
        self.check_rater(by)
        comment = clean_answer(answer.stars, answer.comment, answer.dimensions, policy)
        if self.status is not RatingStatus.RATED or self.submitted_at is None:
            raise Conflict("there is no rating to change")
        if at > self.submitted_at + policy.change_window:
            raise Conflict(f"a rating may be changed within {policy.change_window} only")
        previous = self.stars or answer.stars
        self._take(answer, comment)
        self.changed_at = at
        self.events.append(
            RatingChanged(
                **self._about(),
                stars=answer.stars,
                previous_stars=previous,
                comment=self.comment,
                dimensions=self.dimensions,
                changed_at=at,
            )
        )
        self._maybe_recover(at, policy)

    def _maybe_recover(self, at: datetime, policy: FeedbackPolicy) -> None:
        if self.recovery_request_id is not None or self.stars is None:
            return
        if self.stars > policy.recovery_at_or_below:
            return
        self.recovery_request_id = recovery_request_id(self.request_id)
        self.events.append(
            RecoveryNeeded(
                request_id=self.request_id,
                rater_id=self.rater_id,
                rater_department_id=self.rater_department_id,
                provider_department_id=self.provider_department_id,
                assignee_id=self.assignee_id,
                stars=self.stars,
                comment=self.comment,
                raised_at=at,
                recovery_request_id=self.recovery_request_id,
            )
        )

    def recovery_resolved(self, *, by: str, at: datetime) -> bool:
        """Links the recovery request's outcome; False when already linked (a redelivery)."""
        if self.recovery_request_id is None or self.recovery_resolved_at is not None:
            return False
        self.recovery_resolved_at = at
        self.events.append(
            RecoveryResolved(
                request_id=self.request_id,
                recovery_request_id=self.recovery_request_id,
                provider_department_id=self.provider_department_id,
                resolved_by=by,
                resolved_at=at,
            )
        )
        return True

    # --- the agent's side -----------------------------------------------------------------------

    def rate_clarity(self, *, by: str, stars: int, at: datetime) -> None:
        """The provider's agent rates how clear the request was, once."""
        errors = check_stars(stars)
        if errors:
            raise InvalidInput(errors)
        if self.clarity_stars is not None:
            raise Conflict("the request's clarity was rated already")
        if by == self.rater_id:
            raise invalid("stars", "own_request", "a requester cannot rate their own clarity")
        self.clarity_stars, self.clarity_by, self.clarity_at = stars, by, at
        self.events.append(
            ClarityRated(
                request_id=self.request_id,
                rated_by=by,
                provider_department_id=self.provider_department_id,
                requester_id=self.rater_id,
                requester_department_id=self.rater_department_id,
                stars=stars,
                rated_at=at,
            )
        )

    def pull_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events
