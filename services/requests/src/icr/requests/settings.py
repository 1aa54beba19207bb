"""Requests service settings; every field is an environment variable."""

from __future__ import annotations

from pydantic import Field

from icr.kit.settings import ServiceSettings


class RequestsSettings(ServiceSettings):
    service_name: str = "requests"
    port: int = 8001
    bootstrap_admins: str = Field(
        default="",
        description="Comma-separated person ids treated as admins before the directory has any "
        "(to import the first directory); empty in production once it is loaded.",
    )

    @property
    def bootstrap_admin_ids(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.bootstrap_admins.split(",") if p.strip())
