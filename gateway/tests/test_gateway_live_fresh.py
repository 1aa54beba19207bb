"""A websocket's context lives as long as the connection; each event a subscription sends is
resolved afresh (names, departments), not from what the connection's first event loaded."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from icr.gateway.cache import PEOPLE
from icr.gateway.main import build_app
from icr.gateway.testing import Replica
from icr.kit.testing import bearer, token_for

pytestmark = pytest.mark.infra

PROTOCOL = "graphql-transport-ws"
MINE = "subscription { myRequests { eventType request { id requester { name } } } }"


async def next_update(ws: Any, request_id: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "ping":
                continue
            assert message["type"] == "next", message
            update: dict[str, Any] = message["payload"]["data"]["myRequests"]
            if update["request"]["id"] == request_id:
                return update


async def test_each_event_shows_the_requester_as_they_are_now(stack, unique) -> None:
    pid = f"ws-{unique}"

    async def named(name: str) -> None:
        body = {"name": name, "department_id": "sales", "roles": ["employee"]}
        response = await stack.requests.put(
            f"/people/{pid}", json=body, headers=bearer(stack.admin)
        )
        assert response.status_code in (200, 201), response.text

    await named("First Name")
    transports = {
        "requests": stack.door,
        "feedback": stack.feedback_door,
        "incentives": stack.incentives_door,
    }
    replica = Replica(build_app(stack.gateway_settings(), transports=transports))
    await replica.start()
    try:
        async with websockets.connect(replica.url, subprotocols=[PROTOCOL]) as ws:
            init = {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {token_for(pid)}"},
            }
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps({"id": "mine", "type": "subscribe", "payload": {"query": MINE}})
            )
            async with asyncio.timeout(30):
                while replica.subscribers < 1:
                    await asyncio.sleep(0.05)

            first = await stack.submit(pid)
            assert (await next_update(ws, first))["request"]["requester"]["name"] == "First Name"

            await named("Second Name")
            cache = replica.app.state.clients.cache

            async def heard() -> None:  # the gateway's cache has dropped the old row
                while (cache.peek((PEOPLE, pid)) or {}).get("name") == "First Name":
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(heard(), 15)
            second = await stack.submit(pid)
            update = await next_update(ws, second)
            assert update["request"]["requester"]["name"] == "Second Name"
    finally:
        await replica.stop()
