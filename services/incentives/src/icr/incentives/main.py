"""The incentives service's ASGI app: `uvicorn icr.incentives.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from icr.contracts import topics
from icr.incentives import api, consumers, store
from icr.incentives.settings import IncentivesSettings
from icr.kit.service import ServiceSpec, create_app


def build_app(settings: IncentivesSettings | None = None) -> FastAPI:
    settings = settings or IncentivesSettings()
    spec = ServiceSpec(
        settings=settings,
        produces=topics.owned_by("incentives"),
        indexes=store.INDEXES,
        subscriptions=[consumers.subscription],
        routers=[api.router],
    )
    return create_app(spec, title="ICR incentives")


app = build_app()
