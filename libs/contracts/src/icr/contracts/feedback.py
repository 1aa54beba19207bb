"""Events published by the feedback service (ratings, evaluations, department scores)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from icr.contracts.base import Event
from icr.contracts.registry import registry
from icr.contracts.topics import CAMPAIGNS, EVALUATIONS, RATINGS, SCORES, Topic


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
    resolution: int = 1
    """Which resolution of the request is rated (1, then 2 after a reopen and a new resolve);
    a new invitation replaces an unanswered one for an earlier resolution."""


class RatingSkipped(RatingEvent):
    """No invitation for this resolution. `reason`: "same_department" (the requester belongs to
    the provider), "fatigue_cap" (invited too often this period), "sampled_out", or
    "already_rated" (a reopened request resolved again: the rating given earlier stands). No
    new rating will come for this resolution, so rules waiting for one settle now."""

    event_type: ClassVar[str] = "feedback.rating.skipped"

    rater_id: str
    provider_department_id: str
    assignee_id: str | None = None
    reason: str
    skipped_at: datetime
    resolution: int = 1


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
    requested_at: datetime | None = None
    """When the invitation was sent: scores count a rating in the invitation's period."""


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
    requested_at: datetime | None = None


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
    recovery_request_id: str | None = None
    """The id the recovery request gets: one per rating, however often this is delivered."""


class RecoveryResolved(RatingEvent):
    """The recovery request opened after a low rating was resolved (the loop is closed)."""

    event_type: ClassVar[str] = "feedback.rating.recovery_resolved"

    recovery_request_id: str
    provider_department_id: str
    resolved_by: str
    resolved_at: datetime


class ClarityRated(RatingEvent):
    """The provider's agent rated how clear the request was (two-sided feedback), 1 to 5."""

    event_type: ClassVar[str] = "feedback.rating.clarity_rated"

    rated_by: str
    provider_department_id: str
    requester_id: str
    requester_department_id: str
    stars: int
    rated_at: datetime


# --- evaluation campaigns -----------------------------------------------------------------------


class Question(BaseModel):
    """One question of a campaign: `kind` is "scale" (1 to 5), "nps" (0 to 10, how likely to
    recommend the department) or "text" (free text)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    question_id: str
    kind: str
    text: dict[str, str]


class GroupResult(BaseModel):
    """Results of one provider department (`consumer_department_id` None) or of one pair, only
    for groups with at least the threshold of distinct respondents."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    provider_department_id: str
    consumer_department_id: str | None = None
    respondents: int
    averages: dict[str, float] = {}
    nps: float | None = None


class CampaignEvent(Event):
    topic: ClassVar[Topic] = CAMPAIGNS
    aggregate_field: ClassVar[str] = "campaign_id"

    campaign_id: str


class CampaignOpened(CampaignEvent):
    """An administrator opened an evaluation campaign for [period_start, period_end): each
    department's invitees are the people it served (resolved requests of theirs) then."""

    event_type: ClassVar[str] = "feedback.campaign.opened"

    name: str
    period_start: datetime
    period_end: datetime
    questions: list[Question]
    threshold: int
    opened_by: str
    opened_at: datetime


class CampaignClosed(CampaignEvent):
    """The campaign closed; `results` holds only the groups at or above the threshold."""

    event_type: ClassVar[str] = "feedback.campaign.closed"

    closed_by: str
    closed_at: datetime
    threshold: int
    results: list[GroupResult] = []


class EvaluationSubmitted(Event):
    """One anonymous answer to a campaign about one provider department. It never names the
    respondent; `evaluation_id` is opaque (a keyed hash, not reversible without the service)."""

    event_type: ClassVar[str] = "feedback.evaluation.submitted"
    topic: ClassVar[Topic] = EVALUATIONS
    aggregate_field: ClassVar[str] = "evaluation_id"

    evaluation_id: str
    campaign_id: str
    provider_department_id: str
    respondent_department_id: str
    period_start: datetime
    scores: dict[str, int] = {}
    texts: dict[str, str] = {}
    nps_score: int | None = None
    submitted_at: datetime


# --- scores -------------------------------------------------------------------------------------


class DepartmentScoreUpdated(Event):
    """A department's (or a department pair's) score for one period changed. `average` is the
    raw mean of stars, `calibrated` the Bayesian average toward the organisation's mean (see
    docs/feedback.md); both None below the anonymity threshold of distinct raters."""

    event_type: ClassVar[str] = "feedback.score.updated"
    topic: ClassVar[Topic] = SCORES
    aggregate_field: ClassVar[str] = "score_id"

    score_id: str
    period: str
    period_key: str
    provider_department_id: str
    consumer_department_id: str | None = None
    invitations: int
    ratings: int
    distinct_raters: int
    average: float | None = None
    calibrated: float | None = None
    response_rate: float | None = None
    nps: float | None = None
    updated_at: datetime


registry.register(
    RatingRequested,
    RatingSkipped,
    RatingReminderDue,
    RatingSubmitted,
    RatingChanged,
    RatingExpired,
    RecoveryNeeded,
    RecoveryResolved,
    ClarityRated,
    CampaignOpened,
    CampaignClosed,
    EvaluationSubmitted,
    DepartmentScoreUpdated,
)
