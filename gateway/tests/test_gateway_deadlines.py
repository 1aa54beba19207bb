"""The gateway waits for a service a little longer than the service's own deadline, and its own
deadline is longer still: a service's 503 at its deadline reaches the client as that service's
answer, not cut short by the gateway."""

from __future__ import annotations

import pytest

from icr.gateway.clients import Clients
from icr.gateway.main import build_app
from icr.gateway.settings import GatewaySettings
from icr.kit.http import Unavailable
from icr.kit.settings import ServiceSettings


async def upstream_timeout(settings: GatewaySettings) -> float:
    clients = Clients(settings)
    try:
        timeouts = {c.http.timeout.read for c in clients.all} | {
            c.http.timeout.connect for c in clients.all
        }
    finally:
        await clients.close()
    (timeout,) = timeouts
    assert timeout is not None
    return timeout


def gateway_deadline(settings: GatewaySettings) -> float:
    app = build_app(settings)
    (deadlines,) = [m.kwargs["deadlines"] for m in app.user_middleware if m.cls is Unavailable]
    return float(deadlines.seconds)


@pytest.mark.parametrize("service_deadline", [None, 2.0, 30.0])
async def test_service_deadline_then_upstream_timeout_then_gateway_deadline(
    monkeypatch: pytest.MonkeyPatch, service_deadline: float | None
) -> None:
    if service_deadline is None:
        monkeypatch.delenv("REQUEST_TIMEOUT_SECONDS", raising=False)
    else:
        monkeypatch.setenv("REQUEST_TIMEOUT_SECONDS", str(service_deadline))
    service, gateway = ServiceSettings(), GatewaySettings()
    # Before: all three were 5 s by default (and the upstream timeout stayed 5 s whatever the
    # services' deadline), so the gateway gave up exactly when a service answered its 503.
    upstream = await upstream_timeout(gateway)
    assert service.request_timeout_seconds < upstream < gateway_deadline(gateway)


async def test_an_explicit_upstream_timeout_still_ends_before_the_gateway_deadline() -> None:
    gateway = GatewaySettings(upstream_timeout_seconds=12.0)
    assert await upstream_timeout(gateway) == 12.0
    assert gateway_deadline(gateway) > 12.0
