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
    upstream_timeout_seconds: float = Field(default=5.0)
    graphiql: bool = Field(default=True, description="Serve the GraphiQL IDE at /graphql.")
