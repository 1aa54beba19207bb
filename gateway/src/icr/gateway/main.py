"""The gateway's ASGI app: `uvicorn icr.gateway.main:app`. GraphQL at /graphql."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from icr.gateway import ide
from icr.gateway.clients import Clients
from icr.gateway.http import GraphQLHttp, Operations, Routed
from icr.gateway.schema import build_schema
from icr.gateway.settings import GatewaySettings
from icr.gateway.websocket import LiveRouter, connection_context
from icr.kit.auth import TokenVerifier
from icr.kit.health import Check, NotReady, Readiness, health_router
from icr.kit.http import Deadlines, install_middleware, wrapped
from icr.kit.logging import configure_logging


def build_app(
    settings: GatewaySettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The gateway; `transports` stands in for some services' network (tests)."""
    settings = settings or GatewaySettings()
    configure_logging(settings.service_name, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Settings that cannot verify tokens safely stop the gateway before it serves anything.
        verifier = TokenVerifier(settings)
        app.state.verifier = verifier
        clients = Clients(settings, transports)
        readiness = Readiness()
        for client in clients.all:
            readiness.add(client.name, _ready_check(client.http))
        app.state.clients = clients
        # Runs beside the app: until it holds its partitions the cache serves nothing, and a
        # gateway whose Kafka is away still answers (from the services).
        clients.cache_feed.start()
        app.state.readiness = readiness
        # The schema, its caches' parents and the imported modules live as long as the
        # process: out of the collector's sight, a full collection no longer walks them
        # (they made the p99 of `{ __typename }` tens of milliseconds).
        gc.freeze()
        try:
            yield
        finally:
            await clients.close()
            await verifier.close()

    app = Gateway(title="ICR gateway", lifespan=lifespan)
    # No store here: work past its deadline is cancelled (its service calls with it).
    deadlines = dataclasses.replace(
        Deadlines.of(settings), seconds=settings.deadline_seconds, cancel=True
    )
    app.include_router(health_router(lambda request: _readiness(request)))
    production = settings.environment == "production"
    schema = build_schema(settings.limits, production=production)
    operations = Operations(schema, settings.limits, production=production)
    # POST goes to the plain ASGI endpoint (queries and mutations) inside the kit's causation,
    # deadline and body limit, and outside Starlette's and FastAPI's layers (their error,
    # telemetry and body-limit middleware cost a tenth of a cached `me`). Strawberry's router
    # keeps GraphiQL and the websocket.
    endpoint = Routed(GraphQLHttp(operations), "/graphql")
    app.graphql_post = wrapped(
        endpoint, max_body_bytes=settings.max_body_bytes, deadlines=deadlines
    )
    graphql = LiveRouter(
        schema,
        context_getter=connection_context,
        graphql_ide="graphiql" if settings.serves_ide else None,
        allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
    if settings.serves_ide:
        # GraphiQL's own files, from the gateway (development only: production has no IDE).
        assets = Path(settings.graphiql_assets_dir).resolve()
        graphql.ide_assets = assets
        app.mount(ide.ASSETS_URL, StaticFiles(directory=assets, check_dir=False), name="ide")
    app.include_router(graphql, prefix="/graphql")
    install_middleware(app, max_body_bytes=settings.max_body_bytes, deadlines=deadlines)
    return app


class Gateway(FastAPI):
    """FastAPI, but POST /graphql goes straight to `graphql_post`."""

    graphql_post: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        post = self.graphql_post
        if (
            post is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/graphql"
        ):
            scope["app"] = self  # what Starlette sets: the context reads app.state
            await post(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _readiness(request: Request) -> Readiness:
    readiness: Readiness = request.app.state.readiness
    return readiness


def _ready_check(http: httpx.AsyncClient) -> Check:
    async def check() -> None:
        try:
            response = await http.get("/health/ready")
        except httpx.TransportError as exc:
            raise NotReady("unreachable") from exc
        if response.status_code != 200:
            # The service's own /health/ready names its failing dependency; the gateway says
            # only that this service is not ready (its details are on its own port).
            raise NotReady(f"not ready ({response.status_code})")

    return check


app = build_app()
