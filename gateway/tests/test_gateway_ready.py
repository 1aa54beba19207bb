"""The gateway's /health/ready names each service that is down, and nothing of the error."""

from __future__ import annotations

import socket

import httpx

from icr.gateway.main import build_app
from icr.gateway.settings import GatewaySettings
from icr.kit.testing import auth_settings_for_test, running_app


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_ready_says_which_service_is_down_without_its_error_text() -> None:
    port = closed_port()

    def not_ready(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"status": "unavailable", "checks": {"mongo": "down"}})

    def ready(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok"})

    settings = GatewaySettings(**auth_settings_for_test(), requests_url=f"http://127.0.0.1:{port}")
    transports = {
        "feedback": httpx.MockTransport(not_ready),
        "incentives": httpx.MockTransport(ready),
    }
    async with running_app(build_app(settings, transports=transports)) as gateway:
        response = await gateway.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "requests": "down: unreachable",
            "feedback": "down: not ready (503)",
            "incentives": "ok",
        },
    }
    assert str(port) not in response.text
