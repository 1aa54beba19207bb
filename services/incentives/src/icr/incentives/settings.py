"""Incentives service settings; every field is an environment variable."""

from __future__ import annotations

from pydantic import Field

from icr.kit.settings import ServiceSettings


class IncentivesSettings(ServiceSettings):
    service_name: str = "incentives"
    port: int = 8003

    rating_wait_days: float = Field(
        default=10.0,
        gt=0,
        description="How long a resolution waits for its rating's outcome (submitted, expired or "
        "skipped) before it settles as unrated; longer than feedback's rating window.",
    )
    projection_grace_seconds: float = Field(
        default=5.0,
        gt=0,
        description="A ledger entry not yet counted into balances and leaderboards this long "
        "after it was written (its writer crashed in between) is counted by the timer.",
    )
    redemption_grace_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A redemption or cancellation a crash interrupted is finished by the timer "
        "this long after it started.",
    )
    timer_poll_seconds: float = Field(default=1.0, gt=0, description="How often timers look.")
    timer_lease_seconds: float = Field(default=10.0, gt=0, description="Lease of one timer run.")
    write_retries: int = Field(
        default=20, ge=1, description="Attempts of a read-decide-write that lost a race."
    )
    consumer_members: int = Field(
        default=3,
        ge=1,
        le=12,
        description="Members of the service's consumer group in this process (Kafka shares the "
        "partitions among them, like replicas).",
    )
    consumer_concurrency: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="Records of one poll a member handles at once, one lane per request (its "
        "events in order); their store calls go together, one round trip for many records.",
    )
    leaderboard_size: int = Field(default=20, ge=1, le=200, description="Default board length.")
