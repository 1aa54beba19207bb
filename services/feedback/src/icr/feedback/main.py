"""The feedback service's ASGI app: `uvicorn icr.feedback.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from icr.contracts import topics
from icr.feedback import api, consumers, store
from icr.feedback.settings import FeedbackSettings
from icr.kit.service import ServiceSpec, create_app


def build_app(settings: FeedbackSettings | None = None) -> FastAPI:
    settings = settings or FeedbackSettings()
    spec = ServiceSpec(
        settings=settings,
        produces=topics.owned_by("feedback"),
        indexes=store.INDEXES,
        outbox_collections=[store.RATINGS],
        subscriptions=[consumers.subscription],
        routers=[api.router],
    )
    return create_app(spec, title="ICR feedback")


app = build_app()
