"""The feedback service's ASGI app: `uvicorn icr.feedback.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from icr.contracts import topics
from icr.feedback import store
from icr.feedback.api import EXCEPTION_HANDLERS, ROUTERS
from icr.feedback.consumers import (
    matrix_subscription,
    requests_subscription,
    scores_subscription,
)
from icr.feedback.settings import FeedbackSettings
from icr.feedback.workers import timer_worker
from icr.kit.clock import Clock, system_clock
from icr.kit.service import ServiceSpec, create_app


def build_app(settings: FeedbackSettings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    """The app; `clock` is injectable so tests control expiry, reminders and windows."""
    settings = settings or FeedbackSettings()
    spec = ServiceSpec(
        settings=settings,
        produces=topics.owned_by("feedback"),
        indexes=store.INDEXES,
        outbox_collections=store.OUTBOX_COLLECTIONS,
        subscriptions=[
            requests_subscription(clock),
            scores_subscription(clock),
            matrix_subscription(clock),
        ],
        routers=ROUTERS,
        exception_handlers=EXCEPTION_HANDLERS,
        workers=[timer_worker(clock)],
    )
    app = create_app(spec, title="ICR feedback")
    app.state.clock = clock
    return app


app = build_app()
