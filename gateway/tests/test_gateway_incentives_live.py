"""Points subscriptions over real websockets, fed by the real Kafka topics the incentives service
writes: two gateway replicas, every subscriber of both gets each event, a person's points go to
that person only, leaderboard changes to anyone, and a slow subscriber is dropped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from icr.gateway.main import build_app
from icr.gateway.testing import Replica, connected, next_message, subscribe
from icr.kit.testing import bearer, token_for

pytestmark = pytest.mark.infra

MY_POINTS = """subscription { myPoints {
  eventType entry { amount kind reason } account { account balance } } }"""
BOARD = """subscription { leaderboardChanged(first: 5) {
  points subjectIds leaderboard { board period lines { rank subjectId points person { name } } }
} }"""
DEPARTMENTS = """subscription { leaderboardChanged(board: DEPARTMENTS, span: ALL_TIME) {
  subjectIds leaderboard { period lines { subjectId points } } } }"""


def _replica(stack: Any, **overrides: Any) -> Replica:
    transports = {
        "requests": stack.door,
        "feedback": stack.feedback_door,
        "incentives": stack.incentives_door,
    }
    return Replica(build_app(stack.gateway_settings(**overrides), transports=transports))


@pytest.fixture(scope="module")
async def replicas(stack: Any) -> AsyncIterator[list[Replica]]:
    running = [_replica(stack) for _ in range(2)]
    for replica in running:
        await replica.start()
    try:
        yield running
    finally:
        for replica in running:
            await replica.stop()


async def give(stack: Any, giver: str, recipient: str, points: int) -> None:
    body = {
        "recipient_id": recipient,
        "points": points,
        "message": "Thanks a lot for sorting this out so quickly",
        "value": "teamwork",
    }
    response = await stack.incentives.post("/recognitions", json=body, headers=bearer(giver))
    assert response.status_code == 201, response.text


async def test_points_and_board_changes_reach_every_subscriber_of_every_replica(
    stack, replicas
) -> None:
    async with contextlib.AsyncExitStack() as sockets:
        mine, boards, others = [], [], []
        for replica in replicas:
            bo = await sockets.enter_async_context(connected(replica, token_for("bo")))
            await subscribe(bo, replica, "points", MY_POINTS)
            eve = await sockets.enter_async_context(connected(replica, token_for("eve")))
            await subscribe(eve, replica, "board", BOARD)
            await subscribe(eve, replica, "depts", DEPARTMENTS)
            # Ivy subscribes to her own points: Bo's never reach her.
            ivy = await sockets.enter_async_context(connected(replica, token_for("ivy")))
            await subscribe(ivy, replica, "points", MY_POINTS)
            mine.append(bo)
            boards.append(eve)
            others.append(ivy)
        await give(stack, "ana", "bo", 7)
        for ws in mine:
            message = await next_message(ws)
            assert message["type"] == "next", message
            update = message["payload"]["data"]["myPoints"]
            assert update["eventType"] == "incentives.points.awarded"
            assert update["entry"] == {
                "amount": 7,
                "kind": "RECOGNITION",
                "reason": update["entry"]["reason"],
            }
            assert update["account"]["account"] == "bo"
        for ws in boards:
            seen = {}
            for _ in range(2):
                message = await next_message(ws)
                seen[message["id"]] = message["payload"]["data"]["leaderboardChanged"]
            people, depts = seen["board"], seen["depts"]
            assert people["points"] == 7
            assert people["subjectIds"] == ["bo"]
            assert people["leaderboard"]["board"] == "PEOPLE"
            line = next(x for x in people["leaderboard"]["lines"] if x["subjectId"] == "bo")
            assert line["points"] >= 7
            assert line["person"] == {"name": "Bo"}
            assert depts["subjectIds"] == ["it"]
            assert depts["leaderboard"]["period"] == "all"
        for ws in others:
            with pytest.raises(TimeoutError):
                await next_message(ws, timeout=1.5)


async def test_a_revocation_reaches_its_account_s_subscriber(stack, replicas) -> None:
    """A revoked entry (a reopened request) is published as incentives.points.revoked; the
    subscriber sees it with a negative amount. Caused for real: a request resolved within its
    SLA and rated 5 stars pays its agent, then the requester reopens it."""
    replica = replicas[0]
    async with connected(replica, token_for("bo")) as ws:
        await subscribe(ws, replica, "points", MY_POINTS)
        rid = await stack.submit("ana")
        for action, body in (("accept", None), ("start", None), ("resolve", {"note": "done"})):
            response = await stack.requests.post(
                f"/requests/{rid}/{action}", json=body, headers=bearer("bo")
            )
            assert response.status_code == 200, response.text
        async with asyncio.timeout(30):
            while True:
                rated = await stack.feedback.post(
                    f"/ratings/{rid}", json={"stars": 5}, headers=bearer("ana")
                )
                if rated.status_code in (200, 201):
                    break
                await asyncio.sleep(0.2)
        message = await next_message(ws, timeout=30)
        awarded = message["payload"]["data"]["myPoints"]
        assert awarded["eventType"] == "incentives.points.awarded"
        assert awarded["entry"]["kind"] == "AWARD"
        assert awarded["entry"]["amount"] > 0
        response = await stack.requests.post(
            f"/requests/{rid}/reopen", json={"reason": "still broken"}, headers=bearer("ana")
        )
        assert response.status_code == 200, response.text
        message = await next_message(ws, timeout=30)
        revoked = message["payload"]["data"]["myPoints"]
        assert revoked["eventType"] == "incentives.points.revoked"
        assert revoked["entry"]["kind"] == "REVOKE"
        assert revoked["entry"]["amount"] == -awarded["entry"]["amount"]


@dataclass
class Stalling(httpx.AsyncBaseTransport):
    """The incentives service's door, slow for one subscriber's reads: that subscriber's
    events pile up in the gateway while everyone else's flow."""

    inner: httpx.AsyncBaseTransport
    token: str

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") == f"Bearer {self.token}":
            await asyncio.sleep(3)
        return await self.inner.handle_async_request(request)


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_up(stack) -> None:
    slow_token = token_for("eve")
    transports = {
        "requests": stack.door,
        "incentives": Stalling(stack.incentives_door, slow_token),
    }
    settings = stack.gateway_settings(live_queue_size=2)
    replica = Replica(build_app(settings, transports=transports))
    await replica.start()
    try:
        async with (
            connected(replica, slow_token) as slow,
            connected(replica, token_for("sam")) as quick,
        ):
            await subscribe(slow, replica, "board", BOARD)
            await subscribe(quick, replica, "board", BOARD)
            # Eve's first event waits on its read; two more fill her queue of two; the
            # fourth overflows it. Sam's reads are quick: he gets all four.
            for points in (1, 2, 3, 4):
                await give(stack, "sam", "eve", points)
                message = await next_message(quick)
                assert message["payload"]["data"]["leaderboardChanged"]["points"] == points
            # The one it was reading when it overflowed, then the end, as an error result.
            first, last = await next_message(slow), await next_message(slow)
            assert first["payload"]["data"]["leaderboardChanged"]["points"] == 1
            assert last["payload"]["errors"][0]["extensions"]["code"] == "SUBSCRIBER_TOO_SLOW"
            assert (await next_message(slow))["type"] == "complete"
    finally:
        await replica.stop()
