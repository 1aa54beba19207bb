"""HTTP shapes, mapped explicitly from the domain (never the stored document or the event)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from icr.contracts.feedback import GroupResult, Question
from icr.feedback.domain.campaign import Campaign
from icr.feedback.domain.matrix import MatrixCell, Reciprocity
from icr.feedback.domain.rating import Rating
from icr.feedback.domain.scores import Score
from icr.kit.strict import StrictBody

Id = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]


class RateIn(StrictBody):
    stars: int = Field(description="1 to 5 (checked by the domain, which names the field).")
    comment: str | None = Field(default=None, max_length=20_000)
    dimensions: dict[str, int] = Field(default_factory=dict, max_length=3)


class ClarityIn(StrictBody):
    stars: int


class RatingOut(BaseModel):
    request_id: str
    resolution: int
    rater_id: str
    rater_department_id: str
    provider_department_id: str
    status: str
    requested_at: datetime
    expires_at: datetime | None
    reminded_at: datetime | None
    skip_reason: str | None
    stars: int | None
    comment: str | None
    dimensions: dict[str, int]
    submitted_at: datetime | None
    changed_at: datetime | None
    clarity_stars: int | None
    recovery_request_id: str | None
    recovery_resolved_at: datetime | None

    @classmethod
    def of(cls, r: Rating) -> RatingOut:
        return cls(
            request_id=r.request_id,
            resolution=r.resolution,
            rater_id=r.rater_id,
            rater_department_id=r.rater_department_id,
            provider_department_id=r.provider_department_id,
            status=r.status.value,
            requested_at=r.requested_at,
            expires_at=r.expires_at,
            reminded_at=r.reminded_at,
            skip_reason=r.skip_reason,
            stars=r.stars,
            comment=r.comment,
            dimensions=r.dimensions,
            submitted_at=r.submitted_at,
            changed_at=r.changed_at,
            clarity_stars=r.clarity_stars,
            recovery_request_id=r.recovery_request_id,
            recovery_resolved_at=r.recovery_resolved_at,
        )


class ScoreOut(BaseModel):
    provider_department_id: str
    consumer_department_id: str | None
    period: str
    period_key: str
    shown: bool
    invitations: int
    ratings: int
    distinct_raters: int
    average: float | None
    calibrated: float | None
    distribution: dict[str, int]
    response_rate: float | None
    nps: float | None

    @classmethod
    def of(cls, s: Score) -> ScoreOut:
        return cls(
            provider_department_id=s.provider_department_id,
            consumer_department_id=s.consumer_department_id,
            period=s.period,
            period_key=s.period_key,
            shown=s.shown,
            invitations=s.invitations,
            ratings=s.ratings,
            distinct_raters=s.distinct_raters,
            average=s.average,
            calibrated=s.calibrated,
            distribution=s.distribution,
            response_rate=s.response_rate,
            nps=s.nps,
        )


class DepartmentScoresOut(BaseModel):
    department: ScoreOut
    pairs: list[ScoreOut]


class ScoreTableOut(BaseModel):
    organisation_mean: float | None
    departments: list[ScoreOut]


class QuestionIn(StrictBody):
    question_id: Id
    kind: str
    text: dict[str, Annotated[str, StringConstraints(max_length=500)]] = Field(max_length=4)


class CampaignIn(StrictBody):
    name: Annotated[str, StringConstraints(max_length=200)]
    period_start: datetime
    period_end: datetime
    questions: list[QuestionIn] = Field(max_length=20)
    threshold: int | None = Field(default=None, ge=2, le=1000)


class CampaignOut(BaseModel):
    campaign_id: str
    name: str
    period_start: datetime
    period_end: datetime
    questions: list[Question]
    threshold: int
    status: str
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    results: list[GroupResult]

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        return cls(
            campaign_id=c.campaign_id,
            name=c.name,
            period_start=c.period_start,
            period_end=c.period_end,
            questions=c.questions,
            threshold=c.threshold,
            status=c.status.value,
            opened_by=c.opened_by,
            opened_at=c.opened_at,
            closed_at=c.closed_at,
            results=c.results,
        )


class EvaluationIn(StrictBody):
    provider_department_id: Id
    scores: dict[str, int] = Field(default_factory=dict, max_length=20)
    texts: dict[str, str] = Field(default_factory=dict, max_length=20)


class ResultsOut(BaseModel):
    campaign_id: str
    status: str
    threshold: int
    groups: list[GroupResult]
    comments: dict[str, list[str]]


class InvitationsOut(BaseModel):
    campaign_id: str
    departments: list[str]


class InviteesOut(BaseModel):
    campaign_id: str
    invitees: dict[str, list[str]]


class BacklogOut(BaseModel):
    count: int
    oldest_since: datetime | None
    oldest_age_seconds: int | None
    average_age_seconds: int | None


class MatrixCellOut(BaseModel):
    provider_department_id: str
    consumer_department_id: str
    submitted: int
    resolved: int
    resolved_within_sla: int
    sla_attainment: float | None
    reopened: int
    reopen_rate: float | None
    closed: int
    cancelled: int
    rejected: int
    invitations: int
    ratings: int
    distinct_raters: int
    rating_shown: bool
    average_rating: float | None
    calibrated_rating: float | None
    open_backlog: BacklogOut

    @classmethod
    def of(cls, c: MatrixCell) -> MatrixCellOut:
        counts, rating, backlog = c.counts, c.rating, c.backlog
        return cls(
            provider_department_id=c.provider_department_id,
            consumer_department_id=c.consumer_department_id,
            submitted=counts.submitted,
            resolved=counts.resolved,
            resolved_within_sla=counts.resolved_met,
            sla_attainment=counts.sla_attainment,
            reopened=counts.reopened,
            reopen_rate=counts.reopen_rate,
            closed=counts.closed,
            cancelled=counts.cancelled,
            rejected=counts.rejected,
            invitations=rating.invitations if rating else 0,
            ratings=rating.ratings if rating else 0,
            distinct_raters=rating.distinct_raters if rating else 0,
            rating_shown=bool(rating and rating.shown),
            average_rating=rating.average if rating else None,
            calibrated_rating=rating.calibrated if rating else None,
            open_backlog=BacklogOut(
                count=backlog.count,
                oldest_since=backlog.oldest_since,
                oldest_age_seconds=backlog.oldest_age_seconds,
                average_age_seconds=backlog.average_age_seconds,
            ),
        )


class MatrixOut(BaseModel):
    period: str
    period_key: str
    organisation_mean: float | None
    departments: list[str]
    cells: list[MatrixCellOut]


class CounterpartOut(BaseModel):
    department_id: str
    provided: int
    consumed: int
    rating_received: float | None
    rating_given: float | None
    rating_asymmetry: float | None


class ReciprocityOut(BaseModel):
    department_id: str
    period: str
    period_key: str
    provided: int
    consumed: int
    balance: int
    counterparts: list[CounterpartOut]

    @classmethod
    def of(cls, r: Reciprocity, period: str, key: str) -> ReciprocityOut:
        return cls(
            department_id=r.department_id,
            period=period,
            period_key=key,
            provided=r.provided,
            consumed=r.consumed,
            balance=r.balance,
            counterparts=[
                CounterpartOut(
                    department_id=c.department_id,
                    provided=c.provided,
                    consumed=c.consumed,
                    rating_received=c.rating_received,
                    rating_given=c.rating_given,
                    rating_asymmetry=c.rating_asymmetry,
                )
                for c in r.counterparts
            ],
        )
