"""Gateway settings; every field is an environment variable."""

from __future__ import annotations

from pydantic import Field

from icr.gateway.limits import Limits
from icr.kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    requests_url: str = Field(default="http://127.0.0.1:8001", description="Requests service.")
    feedback_url: str = Field(default="http://127.0.0.1:8002", description="Feedback service.")
    incentives_url: str = Field(default="http://127.0.0.1:8003", description="Incentives service.")
    feedback_batch_limit: int = Field(
        default=200,
        ge=1,
        description="Ids per batch read of ratings (the feedback service's MAX_BATCH_IDS).",
    )
    upstream_timeout_seconds: float = Field(
        default=0.0,
        ge=0,
        description="How long the gateway waits for a service; 0: the services' "
        "REQUEST_TIMEOUT_SECONDS plus 1 s, so a service's own 503 at its deadline gets through.",
    )
    graphiql: bool = Field(
        default=True,
        description="Serve the GraphiQL IDE at GET /graphql (never with ENVIRONMENT=production).",
    )
    graphiql_assets_dir: str = Field(
        default=".local/graphiql",
        description="GraphiQL's files, written by `make install` (python -m icr.gateway.ide "
        "fetch DIR); relative to the working directory.",
    )
    max_query_depth: int = Field(default=12, ge=1, description="Deepest field nesting allowed.")
    max_query_aliases: int = Field(default=30, ge=0, description="Aliases per document.")
    max_query_tokens: int = Field(default=2_000, ge=10, description="Tokens per document.")
    max_query_operations: int = Field(default=10, ge=1, description="Operations per document.")
    max_query_cost: int = Field(
        default=10_000,
        ge=1,
        description="Fields a query could return: a list counts its page size (first/last, "
        "else the largest page) times the fields below it.",
    )
    max_page_size: int = Field(default=100, ge=1, le=100, description="Largest `first`/`last`.")
    live_queue_size: int = Field(
        default=100,
        ge=1,
        description="Events a subscription may have waiting; past that it is dropped as too slow.",
    )
    max_subscriptions_per_connection: int = Field(
        default=10, ge=1, description="Subscriptions one websocket may hold at once."
    )
    incentives_batch_limit: int = Field(
        default=200,
        ge=1,
        description="Ids per call to the incentives service's /tracked-requests (its MAX_IDS).",
    )
    read_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest a cached directory row, catalog or caller's own account is served "
        "(each is dropped sooner when an event says it changed); 0 turns the cache off.",
    )
    read_cache_entries: int = Field(
        default=100_000, ge=1, description="Entries the read cache holds at most."
    )
    read_cache_stale_seconds: float = Field(
        default=3.0,
        gt=0,
        description="The cache serves nothing once its event feed has not heard from Kafka for "
        "this long (changes it would hear of may be waiting there).",
    )
    requests_batch_limit: int = Field(
        default=200, ge=1, description="Ids per call to the requests service's /requests/batch."
    )

    @property
    def limits(self) -> Limits:
        return Limits(
            max_depth=self.max_query_depth,
            max_aliases=self.max_query_aliases,
            max_tokens=self.max_query_tokens,
            max_operations=self.max_query_operations,
            max_cost=self.max_query_cost,
            max_page_size=self.max_page_size,
        )

    @property
    def serves_ide(self) -> bool:
        return self.graphiql and self.environment != "production"

    @property
    def upstream_timeout(self) -> float:
        # REQUEST_TIMEOUT_SECONDS is the services' deadline too (one variable for the platform).
        return self.upstream_timeout_seconds or self.request_timeout_seconds + 1.0

    @property
    def deadline_seconds(self) -> float:
        """The gateway's own deadline: past its upstream timeout, so a service's answer (or the
        timeout's 503 `unavailable`) reaches the client instead of a bare gateway deadline."""
        return self.upstream_timeout + 1.0
