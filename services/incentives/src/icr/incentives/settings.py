"""Incentives service settings; every field is an environment variable."""

from __future__ import annotations

from icr.kit.settings import ServiceSettings


class IncentivesSettings(ServiceSettings):
    service_name: str = "incentives"
    port: int = 8003
