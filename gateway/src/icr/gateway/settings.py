"""Gateway settings; every field is an environment variable."""

from __future__ import annotations

from pydantic import Field

from icr.kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    requests_url: str = Field(default="http://127.0.0.1:8001", description="Requests service.")
    feedback_url: str = Field(default="http://127.0.0.1:8002", description="Feedback service.")
    incentives_url: str = Field(default="http://127.0.0.1:8003", description="Incentives service.")
    upstream_timeout_seconds: float = Field(
        default=0.0,
        ge=0,
        description="How long the gateway waits for a service; 0: the services' "
        "REQUEST_TIMEOUT_SECONDS plus 1 s, so a service's own 503 at its deadline gets through.",
    )
    graphiql: bool = Field(default=True, description="Serve the GraphiQL IDE at /graphql.")

    @property
    def upstream_timeout(self) -> float:
        # REQUEST_TIMEOUT_SECONDS is the services' deadline too (one variable for the platform).
        return self.upstream_timeout_seconds or self.request_timeout_seconds + 1.0

    @property
    def deadline_seconds(self) -> float:
        """The gateway's own deadline: past its upstream timeout, so a service's answer (or the
        timeout's 503 `unavailable`) reaches the client instead of a bare gateway deadline."""
        return self.upstream_timeout + 1.0
