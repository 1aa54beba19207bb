"""A request's points are read for a whole page in one call, and ids past the incentives
service's batch limit (its MAX_IDS) go in further calls instead of one it would refuse."""

from __future__ import annotations

import json

import httpx

from icr.gateway.clients import Clients
from icr.gateway.loaders import Loaders
from icr.gateway.settings import GatewaySettings
from icr.kit.testing import auth_settings_for_test


async def test_request_points_are_read_in_chunks_of_the_service_limit() -> None:
    calls: list[list[str]] = []

    def tracked(request: httpx.Request) -> httpx.Response:
        ids = request.url.params.get_list("request_id")
        assert request.url.path == "/tracked-requests"
        assert len(ids) <= 200, "the service refuses more than 200 ids"
        calls.append(ids)
        rows = [
            {"request_id": i, "status": "submitted", "settlement": "open", "points": 0}
            for i in ids
            if not i.startswith("unknown")
        ]
        return httpx.Response(200, content=json.dumps(rows))

    settings = GatewaySettings(**auth_settings_for_test(), incentives_url="http://incentives")
    clients = Clients(settings, {"incentives": httpx.MockTransport(tracked)})
    try:
        loaders = Loaders(clients, lambda: "token", lambda: "ana")
        ids = [f"r{n}" for n in range(449)] + ["unknown-1"]
        rows = await loaders.tracked.load_many(ids)
    finally:
        await clients.close()
    assert sorted(len(c) for c in calls) == [50, 200, 200]
    assert [r["request_id"] if r else None for r in rows] == [*ids[:-1], None]
