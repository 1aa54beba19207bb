"""Subscriptions over real websockets, fed by the real Kafka topic the requests service writes:
two gateway replicas, each event to every subscriber of both, authorization per event with
the subscriber's token, refused and expired tokens."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets

from icr.contracts import Envelope
from icr.contracts.requests import SlaWarning
from icr.gateway.main import build_app
from icr.gateway.testing import PROTOCOL, Replica, connected, next_message, subscribe
from icr.kit.testing import publish, token_for

pytestmark = pytest.mark.infra

UPDATE = "{ eventType request { id title status providerDepartment { id } } }"


@pytest.fixture(scope="module")
async def replicas(stack: Any) -> AsyncIterator[list[Replica]]:
    running = [
        Replica(build_app(stack.gateway_settings(), transports={"requests": stack.door}))
        for _ in range(2)
    ]
    for replica in running:
        await replica.start()
    try:
        yield running
    finally:
        for replica in running:
            await replica.stop()


async def test_every_subscriber_of_every_replica_gets_each_event(stack, replicas) -> None:
    async with contextlib.AsyncExitStack() as sockets:
        watchers = []
        for replica in replicas:
            mine = await sockets.enter_async_context(connected(replica, token_for("ana")))
            await subscribe(mine, replica, "mine", f"subscription {{ myRequests {UPDATE} }}")
            queue = await sockets.enter_async_context(connected(replica, token_for("bo")))
            await subscribe(queue, replica, "queue", f"subscription {{ departmentQueue {UPDATE} }}")
            watchers += [mine, queue]
        rid = await stack.submit("ana")
        for ws in watchers:
            message = await next_message(ws)
            assert message["type"] == "next", message
            update = next(iter(message["payload"]["data"].values()))
            assert update["eventType"] == "requests.request.submitted"
            assert update["request"]["id"] == rid
            assert update["request"]["providerDepartment"]["id"] == "it"


async def test_events_about_requests_the_subscriber_may_not_see_are_not_sent(
    stack, replicas
) -> None:
    replica = replicas[0]
    async with connected(replica, token_for("eve")) as ws:
        # Eve (HR) asks for IT's queue: the gateway asks the service as Eve, which shows her
        # no IT request, so nothing of it reaches her; her own department's does.
        await subscribe(
            ws, replica, "it", f'subscription {{ departmentQueue(departmentId: "it") {UPDATE} }}'
        )
        await subscribe(ws, replica, "hr", f"subscription {{ departmentQueue {UPDATE} }}")
        await stack.submit("ana")  # to IT
        hr_request = await stack.submit("ana", item="contract", form={})  # to HR
        message = await next_message(ws)
        assert message["id"] == "hr", message
        assert message["payload"]["data"]["departmentQueue"]["request"]["id"] == hr_request
        with pytest.raises(TimeoutError):
            await next_message(ws, timeout=1.5)


async def test_a_request_s_updates_follow_its_life(stack, replicas) -> None:
    replica = replicas[1]
    rid = await stack.submit("ana")
    async with connected(replica, token_for("ana")) as ws:
        query = f'subscription {{ requestUpdated(id: "{rid}") {UPDATE} }}'
        await subscribe(ws, replica, "one", query)
        await stack.requests.post(f"/requests/{rid}/accept", headers=stack_headers("bo"))
        seen = set()
        while "requests.request.accepted" not in seen:
            message = await next_message(ws)
            update = message["payload"]["data"]["requestUpdated"]
            assert update["request"]["id"] == rid
            seen.add(update["eventType"])
        assert update["request"]["status"] == "ACCEPTED"


async def test_sla_warnings_reach_the_provider_department(stack, replicas) -> None:
    replica = replicas[0]
    rid = await stack.submit("ana")
    async with connected(replica, token_for("bo")) as ws:
        query = "subscription { slaWarnings { kind clock remainingSeconds request { id } } }"
        await subscribe(ws, replica, "sla", query)
        now = datetime.now(UTC)
        warning = SlaWarning(
            request_id=rid,
            clock="resolution",
            due_at=now + timedelta(minutes=30),
            remaining_seconds=1800,
            warned_at=now,
            provider_department_id="it",
        )
        await publish(stack.settings, Envelope.wrap(warning, source="requests"))
        message = await next_message(ws)
        alert = message["payload"]["data"]["slaWarnings"]
        assert alert == {
            "kind": "warning",
            "clock": "resolution",
            "remainingSeconds": 1800,
            "request": {"id": rid},
        }


async def test_a_connection_without_a_valid_token_is_refused(replicas) -> None:
    async with websockets.connect(replicas[0].url, subprotocols=[PROTOCOL]) as ws:
        init = {"type": "connection_init", "payload": {"authorization": "Bearer not-a-token"}}
        await ws.send(json.dumps(init))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_message(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_the_socket_closes_when_the_token_expires(replicas) -> None:
    token = token_for("ana", hours=3 / 3600)  # three seconds
    async with connected(replicas[0], token) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_message(ws, timeout=15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_subscriptions_per_connection_are_limited(stack, replicas) -> None:
    replica = replicas[1]
    limit = stack.gateway_settings().max_subscriptions_per_connection
    async with connected(replica, token_for("ana")) as ws:
        for n in range(limit):
            await subscribe(ws, replica, f"s{n}", f"subscription {{ myRequests {UPDATE} }}")
        query = f"subscription {{ myRequests {UPDATE} }}"
        await ws.send(json.dumps({"id": "over", "type": "subscribe", "payload": {"query": query}}))
        message = await next_message(ws)
        assert message["id"] == "over"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"


def stack_headers(person: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token_for(person)}"}
