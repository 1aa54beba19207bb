"""The requests service's ASGI app: `uvicorn icr.requests.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from icr.contracts import topics
from icr.kit.service import ServiceSpec, create_app
from icr.requests import store
from icr.requests.api import EXCEPTION_HANDLERS, ROUTERS, CommandBodyLimit
from icr.requests.clock import Clock, system_clock
from icr.requests.consumers import recovery_subscription
from icr.requests.handlers.sla import sla_worker
from icr.requests.settings import RequestsSettings


def build_app(settings: RequestsSettings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    """The app; `clock` is injectable so tests and simulations control SLA time."""
    settings = settings or RequestsSettings()
    spec = ServiceSpec(
        settings=settings,
        produces=topics.owned_by("requests"),
        indexes=store.INDEXES,
        outbox_collections=store.OUTBOX_COLLECTIONS,
        routers=ROUTERS,
        exception_handlers=EXCEPTION_HANDLERS,
        workers=[sla_worker(clock)],
        subscriptions=[recovery_subscription(clock)],
        bulk_paths=["/directory/import"],
    )
    app = create_app(spec, title="ICR requests")
    app.state.clock = clock
    app.add_middleware(
        CommandBodyLimit, limit=settings.max_command_bytes, exempt={"/directory/import"}
    )
    return app


app = build_app()
