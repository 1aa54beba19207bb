"""The incentives service's ASGI app: `uvicorn icr.incentives.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from icr.contracts import topics
from icr.incentives import consumers, store
from icr.incentives.api import EXCEPTION_HANDLERS, ROUTERS
from icr.incentives.settings import IncentivesSettings
from icr.incentives.timers import timers_worker
from icr.kit.service import ServiceSpec, create_app


def build_app(settings: IncentivesSettings | None = None) -> FastAPI:
    settings = settings or IncentivesSettings()
    spec = ServiceSpec(
        settings=settings,
        produces=topics.owned_by("incentives"),
        indexes=store.INDEXES,
        outbox_collections=store.OUTBOX_COLLECTIONS,
        subscriptions=[consumers.subscription],
        routers=ROUTERS,
        exception_handlers=EXCEPTION_HANDLERS,
        workers=[timers_worker, consumers.more_members],
    )
    return create_app(spec, title="ICR incentives")


app = build_app()
