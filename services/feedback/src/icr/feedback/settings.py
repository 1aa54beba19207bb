"""Feedback service settings; every field is an environment variable."""

from __future__ import annotations

from icr.kit.settings import ServiceSettings


class FeedbackSettings(ServiceSettings):
    service_name: str = "feedback"
    port: int = 8002
