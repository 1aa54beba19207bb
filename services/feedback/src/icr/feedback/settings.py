"""Feedback service settings; every field is an environment variable."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from icr.feedback.domain.policy import FeedbackPolicy
from icr.kit.auth import AuthConfigError
from icr.kit.periods import PeriodKind
from icr.kit.settings import ServiceSettings

DEV_ANSWER_KEY = "icr-feedback-answers"
"""The public development key of campaign answers; production refuses it."""
MIN_ANSWER_KEY = 16


class FeedbackSettings(ServiceSettings):
    service_name: str = "feedback"
    port: int = 8002

    invitation_cap: int = Field(
        default=4, ge=0, description="Most rating invitations one person gets per cap period."
    )
    invitation_cap_period: PeriodKind = Field(
        default=PeriodKind.MONTH, description="The period of the cap: week, month or quarter."
    )
    rating_sample_rate: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of eligible resolutions whose requester is asked (by a hash of the "
        "request id, so a replay decides the same).",
    )
    rating_expiry_hours: float = Field(
        default=168, gt=0, description="How long an invitation to rate stays open."
    )
    rating_reminder_before_hours: float = Field(
        default=48, gt=0, description="How long before expiry the one reminder is due."
    )
    rating_change_hours: float = Field(
        default=24, ge=0, description="How long after rating the requester may change it."
    )
    rating_comment_max: int = Field(default=1000, ge=1, description="Longest rating comment.")
    recovery_at_or_below: int = Field(
        default=2, ge=1, le=5, description="Ratings at or below this open a recovery request."
    )
    anonymity_threshold: int = Field(
        default=5,
        ge=2,
        description="Distinct respondents a score or campaign result needs before it is shown.",
    )
    score_prior_weight: float = Field(
        default=5.0,
        ge=0,
        description="C of the calibrated score (C * org mean + sum) / (C + n): how many "
        "ratings' worth of weight the organisation's mean has.",
    )
    score_publish_delay_seconds: float = Field(
        default=2.0,
        ge=0,
        description="A changed score's update event waits this long, so a "
        "burst of ratings gives one event.",
    )
    timer_poll_seconds: float = Field(default=1.0, gt=0, description="Durable timers' poll.")
    timer_lease_seconds: float = Field(default=5.0, gt=0, description="Durable timers' lease.")
    answer_key_secret: str = Field(
        default=DEV_ANSWER_KEY,
        description="Key of the hash that makes campaign answers one per person without naming "
        "them; set a secret of your own in production.",
    )
    max_batch_ids: int = Field(default=200, ge=1, description="Most ids in GET /ratings.")
    max_page_size: int = Field(default=100, ge=1, description="Largest listing page.")
    write_retries: int = Field(default=8, ge=1, description="Attempts of a write that lost a race.")

    @model_validator(mode="after")
    def _reminder_before_expiry(self) -> FeedbackSettings:
        # Refused at start, not at the first resolution: the policy would fail there.
        self.policy  # noqa: B018
        return self

    def check_startup(self) -> None:
        # Anyone who knows the key can compute the HMAC of (campaign, department, person) for
        # every invitee and match it with the answers' ids (in the store and in the events).
        if self.environment == "production" and (
            self.answer_key_secret == DEV_ANSWER_KEY or len(self.answer_key_secret) < MIN_ANSWER_KEY
        ):
            raise AuthConfigError(
                "production needs an ANSWER_KEY_SECRET of its own (at least "
                f"{MIN_ANSWER_KEY} characters): with the public default, campaign answers can "
                "be matched to their respondents"
            )

    @property
    def policy(self) -> FeedbackPolicy:
        return FeedbackPolicy(
            invitation_cap=self.invitation_cap,
            cap_period=self.invitation_cap_period,
            sample_rate=self.rating_sample_rate,
            expiry=timedelta(hours=self.rating_expiry_hours),
            reminder_before=timedelta(hours=self.rating_reminder_before_hours),
            change_window=timedelta(hours=self.rating_change_hours),
            comment_max=self.rating_comment_max,
            recovery_at_or_below=self.recovery_at_or_below,
        )
