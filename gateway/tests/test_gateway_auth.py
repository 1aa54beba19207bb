"""The gateway verifies the caller's token before any service hears of the call, forwards a good
one unchanged (never an identity header), and reports refusals as GraphQL error codes:
UNAUTHENTICATED for the caller's fault, UNAVAILABLE when the issuer's keys cannot be had.

Fast tier: the service behind the gateway is a small HTTP server on a real port that records
what it receives (the real services are behind it in tests/e2e/test_authorization_matrix.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from icr.gateway.main import build_app
from icr.gateway.settings import GatewaySettings
from icr.kit.testing import auth_settings_for_test, bearer, free_port, issuer_for_tests

ROW = {
    "id": "r1",
    "title": "Laptop",
    "status": "submitted",
    "priority": "medium",
    "catalog_item_id": "laptop",
    "catalog_item_version": 1,
    "requester_id": "ana",
    "requester_department_id": "sales",
    "provider_department_id": "it",
    "submitted_at": "2024-06-03T01:00:00+00:00",
    "updated_at": "2024-06-03T01:00:00+00:00",
    "owning_team": None,
    "breached": False,
    "allowed_actions": [],
    "sla": {
        clock: {
            "target_seconds": 3600,
            "due_at": None,
            "elapsed_seconds": 0,
            "remaining_seconds": 3600,
            "paused": False,
            "stopped": False,
            "breached": False,
            "met": None,
        }
        for clock in ("first_response", "resolution")
    },
}
QUERY = "query($id: ID!) { request(id: $id) { id title } }"
MUTATION = """mutation($input: SubmitRequestInput!) {
  submitRequest(input: $input) { __typename ... on ServiceRequest { id } } }"""
SUBMIT = {"input": {"catalogItemId": "laptop", "title": "Laptop", "form": {}}}
OPERATIONS = {"request": (QUERY, {"id": "r1"}), "submitRequest": (MUTATION, SUBMIT)}


class Upstream:
    """A service on a real port: records each call's headers; answers `status`."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.status = 200
        self.port = free_port()
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def any_call(request: Request, path: str) -> JSONResponse:
            if path.startswith("health"):
                return JSONResponse({"status": "ok"})
            self.calls.append(dict(request.headers))
            if self.status == 401:
                body = {"error": {"code": "unauthenticated", "message": "unknown person 'zed'"}}
                return JSONResponse(body, status_code=401)
            return JSONResponse([ROW] if request.method == "GET" else ROW, status_code=self.status)

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    service = Upstream()
    task = asyncio.create_task(service.server.serve())
    while not service.server.started:
        await asyncio.sleep(0.01)
    try:
        yield service
    finally:
        service.server.should_exit = True
        await task


async def gateway_of(upstream: Upstream, **auth: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        requests_url=upstream.url,
        feedback_url=upstream.url,
        incentives_url=upstream.url,
        **{**auth_settings_for_test(), **auth},
    )
    app = build_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


@pytest.fixture
async def gateway(upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    async for http in gateway_of(upstream):
        yield http


async def run(
    http: httpx.AsyncClient, operation: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    query, variables = OPERATIONS[operation]
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in body.get("errors", [])}


issuer = issuer_for_tests()
BAD = {
    "no token": {},
    "identity header only": {"X-Actor-Id": "admin"},
    "not bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "malformed": {"Authorization": "Bearer not-a-jwt"},
    "expired": bearer("ana", hours=-1),
    "wrong issuer": bearer("ana", issuer="https://evil.example"),
    "wrong audience": bearer("ana", audience="elsewhere"),
    "unknown key id": bearer("ana", headers={"kid": "unknown"}),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("kind", sorted(BAD))
async def test_a_bad_token_is_refused_before_any_service_hears_of_it(
    gateway: httpx.AsyncClient, upstream: Upstream, operation: str, kind: str
) -> None:
    body = await run(gateway, operation, BAD[kind])
    assert codes(body) == {"UNAUTHENTICATED"}, body
    assert upstream.calls == []


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_a_good_token_is_forwarded_unchanged(
    gateway: httpx.AsyncClient, upstream: Upstream, operation: str
) -> None:
    headers = bearer("ana")
    body = await run(gateway, operation, {**headers, "X-Actor-Id": "admin"})
    assert "errors" not in body, body
    assert [c["authorization"] for c in upstream.calls] == [headers["Authorization"]]
    assert "x-actor-id" not in upstream.calls[0]


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_a_person_the_service_refuses_is_unauthenticated(
    gateway: httpx.AsyncClient, upstream: Upstream, operation: str
) -> None:
    upstream.status = 401
    body = await run(gateway, operation, bearer("zed"))
    assert codes(body) == {"UNAUTHENTICATED"}, body


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_issuer_down_is_unavailable_not_unauthenticated(
    upstream: Upstream, operation: str
) -> None:
    down = f"http://127.0.0.1:{free_port()}/certs"
    async for http in gateway_of(upstream, auth_jwks_file="", auth_jwks_url=down):
        body = await run(http, operation, bearer("ana"))
    assert codes(body) == {"UNAVAILABLE"}, body
    assert upstream.calls == []


def test_the_gateway_refuses_to_start_without_an_issuer() -> None:
    from icr.kit.auth import AuthConfigError

    app = build_app(GatewaySettings())  # production by default, no AUTH_ISSUER

    async def start() -> None:
        async with LifespanManager(app):
            pass

    with pytest.raises(AuthConfigError):
        asyncio.run(start())
