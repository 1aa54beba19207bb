"""Requests service settings; every field is an environment variable."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from icr.kit.settings import ServiceSettings
from icr.requests.domain.lifecycle import LifecyclePolicy


class RequestsSettings(ServiceSettings):
    service_name: str = "requests"
    port: int = 8001

    sla_warning_share: float = Field(
        default=0.25,
        gt=0,
        lt=1,
        description="A warning event fires when a clock's time left falls to this share of its "
        "target (0.25: a quarter of the target left).",
    )
    auto_close_days: float = Field(
        default=5, gt=0, description="Days after resolution before an unconfirmed request closes."
    )
    reopen_window_days: float = Field(
        default=7, ge=0, description="Days after resolution during which the requester may reopen."
    )
    sla_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the SLA scheduler looks for due timers."
    )
    sla_lease_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long one replica owns a due timer (or a running import) without "
        "renewing; renewed every third of it while the work runs, so a replica that dies "
        "mid-timer delays it by at most this long.",
    )
    import_resume_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An import still unfinished this long after it began (its process died) "
        "is applied again by the scheduler.",
    )
    default_page_size: int = Field(default=50, ge=1, description="Page size of GET /requests.")
    max_page_size: int = Field(default=200, ge=1, description="Largest page GET /requests serves.")
    max_batch_ids: int = Field(
        default=200, ge=1, description="Most ids in GET /requests/batch and GET /people."
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest body of any request, which is the directory import's (413 beyond).",
    )
    max_command_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Largest body of every route but the directory import (413 beyond).",
    )
    max_import_rows: int = Field(default=20_000, ge=1, description="Most rows in one import.")
    max_comments_per_request: int = Field(
        default=1_000, ge=1, description="Comments and notes one request may hold."
    )
    max_request_grown_bytes: int = Field(
        default=8_000_000,
        ge=100_000,
        description="Size of a request's comments and history beyond which people's actions are "
        "refused (409); half of MongoDB's 16 MB, so system actions (SLA, auto-close) still fit.",
    )
    write_retries: int = Field(
        default=8, ge=1, description="Attempts of a write that lost an optimistic-concurrency race."
    )

    recovery_first_response_hours: float = Field(
        default=4,
        gt=0,
        description="First-response target of a recovery request (opened after a low rating), "
        "in business hours of the provider's calendar.",
    )
    recovery_resolution_hours: float = Field(
        default=16, gt=0, description="Resolution target of a recovery request, business hours."
    )

    @property
    def policy(self) -> LifecyclePolicy:
        return LifecyclePolicy(
            auto_close_after=timedelta(days=self.auto_close_days),
            reopen_window=timedelta(days=self.reopen_window_days),
            warning_share=self.sla_warning_share,
        )
