"""Settings shared by every ICR process; each service extends `ServiceSettings`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Every knob has an environment variable (the field name in upper case) and a default."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service_name: str = Field(default="icr", description="Name in logs, events and metrics.")
    host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    port: int = Field(default=8000, description="HTTP port.")
    log_level: str = Field(default="INFO")
    max_body_bytes: int = Field(default=1_000_000, description="Larger request bodies get 413.")

    request_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Deadline of one HTTP request, store calls included; past it the request "
        "answers 503 (code `unavailable`) instead of waiting out an outage.",
    )
    bulk_request_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Deadline of the routes a service marks as bulk (imports)."
    )
    max_abandoned_requests: int = Field(
        default=1000,
        ge=1,
        description="Requests past their deadline whose work still runs; beyond this many, new "
        "requests answer 503 at once instead of piling up more work.",
    )
    retry_after_seconds: int = Field(
        default=2, ge=1, description="`Retry-After` of a 503 answered during an outage."
    )

    environment: Literal["production", "development"] = Field(
        default="production",
        description="`development` allows the local signing key (AUTH_JWKS_FILE); production "
        "refuses to start with it and needs a real issuer.",
    )
    auth_issuer: str = Field(default="", description="The `iss` every bearer token must carry.")
    auth_audience: str = Field(default="icr", description="The `aud` every token must carry.")
    auth_jwks_url: str = Field(
        default="", description="The issuer's JWKS URL (OIDC `jwks_uri`), e.g. Keycloak's."
    )
    auth_jwks_file: str = Field(
        default="", description="A local JWKS file instead of a URL (development only)."
    )
    auth_algorithms: str = Field(
        default="ES256,RS256,EdDSA",
        description="Accepted signature algorithms, comma-separated; asymmetric ones only.",
    )
    auth_subject_claim: str = Field(
        default="sub", description="The claim that holds the caller's person id."
    )
    auth_leeway_seconds: float = Field(
        default=30.0, ge=0, le=300, description="Clock skew allowed on `exp` and `nbf`."
    )
    auth_jwks_cache_seconds: float = Field(
        default=3600.0, gt=0, description="How long fetched keys are used before a refetch."
    )
    auth_jwks_min_refetch_seconds: float = Field(
        default=30.0,
        ge=0,
        description="An unknown key id refetches the keys at most this often (rotation without "
        "letting made-up key ids hammer the issuer).",
    )
    auth_roles_claim: str = Field(
        default="",
        description="A claim whose roles are trusted on top of the directory's (e.g. `roles`); "
        "empty: roles come only from the directory.",
    )
    bootstrap_admins: str = Field(
        default="",
        description="Comma-separated person ids treated as admins before the directory has any "
        "(to import the first directory); empty in production once it is loaded.",
    )

    mongo_url: str = Field(
        default="mongodb://127.0.0.1:27017/?directConnection=true",
        description="MongoDB connection string (real MongoDB or the local stand-in).",
    )
    mongo_db: str = Field(default="", description="Database name; defaults to icr_<service>.")
    mongo_db_prefix: str = Field(
        default="", description="Prefix of the default database name (isolates test runs)."
    )
    mongo_timeout_ms: int = Field(default=3000, description="Server selection timeout.")

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    kafka_topic_prefix: str = Field(
        default="", description="Prefix for every topic name: isolates environments on one cluster."
    )
    kafka_replication_factor: int = Field(
        default=1, description="Replication factor of created topics (3 on a production cluster)."
    )
    kafka_retention_ms: int = Field(
        default=-1, description="Retention of created topics; -1 keeps events for replay."
    )

    outbox_poll_seconds: float = Field(
        default=1.0, description="How often the relay looks for events it was not woken for."
    )
    outbox_lease_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long one relay replica owns a document's pending events without "
        "renewing; the lease is renewed every third of it while sending, so after a crash the "
        "dead replica's events go out again within this long.",
    )
    outbox_metrics_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often the relay counts the backlog and oldest pending age per collection.",
    )
    consumer_max_attempts: int = Field(
        default=5, description="Attempts before an event goes to the dead-letter topic."
    )
    consumer_retry_backoff_seconds: float = Field(
        default=0.2, description="First retry delay of a failing handler (doubles, with jitter)."
    )
    consumer_max_poll_interval_ms: int = Field(
        default=60_000,
        description="Kafka's max.poll.interval.ms: a member that does not poll for this long is "
        "evicted from its group. Must be at least twice consumer_record_budget_seconds.",
    )
    consumer_record_budget_seconds: float = Field(
        default=20.0,
        description="Time one record may take (all its attempts and waits for the store or "
        "broker) before the consumer seeks back to it and polls again to stay in the group.",
    )
    consumer_concurrency: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Records of one poll handled at once by a consumer: one lane per aggregate "
        "(its records in order), up to this many lanes at a time. 1 handles them one by one.",
    )
    consumer_hold_check_seconds: float = Field(
        default=2.0, description="How often a consumer looks for operator actions on its holds."
    )
    kafka_min_insync_replicas: int = Field(
        default=1,
        description="min.insync.replicas of created topics: 2 in production (replication 3), "
        "so acks=all means two copies; 1 locally with one broker.",
    )
    inbox_retention_days: float = Field(
        default=30.0,
        description="How long processed event ids are remembered; older redeliveries (a replay) "
        "rely on the projections' own apply_once guards.",
    )

    def check_startup(self) -> None:
        """Raises when these settings must not serve (a service's own secrets left at their
        public defaults in production); `create_app` calls it before anything starts."""

    @property
    def bootstrap_admin_ids(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.bootstrap_admins.split(",") if p.strip())

    @property
    def database(self) -> str:
        return self.mongo_db or f"{self.mongo_db_prefix}icr_{self.service_name}"

    def topic_name(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"
