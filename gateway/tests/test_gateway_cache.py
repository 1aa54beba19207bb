"""The gateway's read cache on the real services, Kafka and store: a repeated `me` costs no
service call, and what changes behind the gateway's back (a rename, a deactivation, points
given at the incentives service) reaches the next answer through its event, long before the
cache's own expiry (30 s, far past every wait here)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from icr.gateway.main import build_app
from icr.incentives.store.accounts import AccountStore
from icr.kit.testing import bearer, free_port

pytestmark = pytest.mark.infra

ME = "{ me { id name roles department { id name } balance } }"
EVENT_WAIT = 10.0  # an event's way: relay, Kafka, the feed; well under the 30 s expiry


async def until(check: Callable[[], Awaitable[Any]], timeout: float = EVENT_WAIT) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found


async def serving(stack: Any) -> None:
    assert stack.cache.seconds >= 30
    await until(lambda: _true(stack.cache.serving()))


async def _true(value: bool) -> bool:
    return value


def calls(stack: Any) -> int:
    return len(stack.door.calls) + len(stack.feedback_door.calls) + len(stack.incentives_door.calls)


def clear_doors(stack: Any) -> None:
    for door in (stack.door, stack.feedback_door, stack.incentives_door):
        door.calls.clear()


async def person(stack: Any, pid: str, name: str, *, active: bool = True) -> None:
    body = {"name": name, "department_id": "it", "roles": ["agent"], "active": active}
    response = await stack.requests.put(f"/people/{pid}", json=body, headers=bearer(stack.admin))
    assert response.status_code in (200, 201), response.text


async def known_to_incentives(stack: Any, pid: str) -> None:
    async def known() -> bool:
        response = await stack.incentives.get("/accounts/me", headers=bearer(pid))
        return response.status_code == 200

    await until(known, 30)


async def recognise(stack: Any, pid: str, points: int) -> None:
    """Ana gives `pid` points at the incentives service itself, not through the gateway."""
    body = {
        "recipient_id": pid,
        "points": points,
        "message": "Thank you for fixing the printer so quickly!",
        "value": "teamwork",
    }
    given = await stack.incentives.post("/recognitions", json=body, headers=bearer("ana"))
    assert given.status_code == 201, given.text


async def test_a_repeated_me_costs_no_service_call(stack, unique) -> None:
    await serving(stack)
    pid = f"cache-{unique}"
    await person(stack, pid, "Cato")
    await known_to_incentives(stack, pid)
    first = await stack.graphql(ME, actor=pid)
    assert first["me"]["name"] == "Cato"
    assert first["me"]["department"]["id"] == "it"
    clear_doors(stack)
    again = await stack.graphql(ME, actor=pid)
    assert again == first
    assert calls(stack) == 0, (stack.door.paths(), stack.incentives_door.paths())
    # Someone else's first query: their own row and account are theirs to fetch; the
    # departments list is shared and stays cached.
    clear_doors(stack)
    await stack.graphql(ME, actor="eve")
    assert "GET /departments" not in stack.door.paths()


async def test_a_rename_at_the_service_reaches_me_through_its_event(stack, unique) -> None:
    await serving(stack)
    pid = f"rename-{unique}"
    await person(stack, pid, "Old Name")
    await known_to_incentives(stack, pid)
    assert (await stack.graphql(ME, actor=pid))["me"]["name"] == "Old Name"
    clear_doors(stack)
    assert (await stack.graphql(ME, actor=pid))["me"]["name"] == "Old Name"
    assert calls(stack) == 0  # cached: without the event it would stay so for 30 s

    await person(stack, pid, "New Name")  # at the requests service, not through the gateway

    async def renamed() -> bool:
        return bool((await stack.graphql(ME, actor=pid))["me"]["name"] == "New Name")

    await until(renamed)


async def test_a_deactivation_at_the_service_ends_cached_reads(stack, unique) -> None:
    await serving(stack)
    pid = f"leaver-{unique}"
    await person(stack, pid, "Leaver")
    await known_to_incentives(stack, pid)
    await stack.graphql(ME, actor=pid)
    clear_doors(stack)
    await stack.graphql(ME, actor=pid)
    assert calls(stack) == 0

    await person(stack, pid, "Leaver", active=False)

    async def refused() -> bool:
        body = (await stack.raw(ME, actor=pid)).json()
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        return "UNAUTHENTICATED" in codes

    await until(refused)


async def test_points_given_at_the_incentives_service_reach_the_cached_balance(
    stack, unique
) -> None:
    await serving(stack)
    pid = f"earner-{unique}"
    await person(stack, pid, "Earner")
    await known_to_incentives(stack, pid)
    before = (await stack.graphql(ME, actor=pid))["me"]["balance"]
    clear_doors(stack)
    assert (await stack.graphql(ME, actor=pid))["me"]["balance"] == before
    assert calls(stack) == 0

    await recognise(stack, pid, 7)

    async def credited() -> bool:
        return bool((await stack.graphql(ME, actor=pid))["me"]["balance"] == before + 7)

    await until(credited)


async def test_a_write_through_the_gateway_is_read_back_at_once(stack, unique) -> None:
    """The caller reads their own write without waiting for its event: the gateway drops what
    the write may have changed as soon as the service answers."""
    await serving(stack)
    before = (await stack.graphql(ME, actor="ana"))["me"]["balance"]
    await stack.graphql(ME, actor="ivy")  # cached too
    given = await stack.graphql(
        """mutation ($input: RecognitionInput!) {
             giveRecognition(input: $input) { __typename } }""",
        {
            "input": {
                "recipientId": "ivy",
                "points": 1,
                "message": "Thanks for the review of the contract!",
                "value": "teamwork",
            }
        },
        actor="ana",
    )
    assert given["giveRecognition"]["__typename"] == "Recognition"
    clear_doors(stack)
    assert (await stack.graphql(ME, actor="ana"))["me"]["balance"] == before
    # Every cached account was dropped with the write: asked again, not served from memory.
    assert "GET /accounts/me" in stack.incentives_door.paths()


async def test_without_kafka_the_gateway_answers_from_the_services(stack, unique) -> None:
    """A gateway whose Kafka is unreachable cannot hear of changes, so it keeps nothing: every
    query asks the services, and a rename shows at once."""
    nowhere = {"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"}
    settings = stack.gateway_settings().model_copy(update=nowhere)
    transports = {
        "requests": stack.door,
        "feedback": stack.feedback_door,
        "incentives": stack.incentives_door,
    }
    app = build_app(settings, transports=transports)
    pid = f"nokafka-{unique}"
    await person(stack, pid, "First")
    await known_to_incentives(stack, pid)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as gateway:

            async def me() -> dict[str, Any]:
                response = await gateway.post("/graphql", json={"query": ME}, headers=bearer(pid))
                assert response.status_code == 200, response.text
                data: dict[str, Any] = response.json()["data"]["me"]
                return data

            assert (await me())["name"] == "First"
            await asyncio.sleep(0.5)
            clear_doors(stack)
            assert (await me())["name"] == "First"
            assert "GET /people" in stack.door.paths()
            assert "GET /accounts/me" in stack.incentives_door.paths()
            await person(stack, pid, "Second")
            assert (await me())["name"] == "Second"
            assert not app.state.clients.cache.serving()


async def test_a_balance_read_before_the_service_counted_the_points_is_not_kept(
    stack, unique, monkeypatch
) -> None:
    """The incentives service writes a ledger entry with its event, then counts it into the
    balance: the event can reach the gateway first. A read in between gets the old balance
    from the service; kept, it would hide the points until the 30 s expiry."""
    await serving(stack)
    pid = f"counted-{unique}"
    await person(stack, pid, "Counted")
    await known_to_incentives(stack, pid)
    before = (await stack.graphql(ME, actor=pid))["me"]["balance"]

    counting = asyncio.Event()
    counted = asyncio.Event()
    apply_many = AccountStore.apply_many

    async def slow_count(self: AccountStore, entries: Any) -> None:
        if any(e.account == pid for e in entries):
            counting.set()
            await asyncio.sleep(1.5)  # a busy store: the event is out before the count
            await apply_many(self, entries)
            counted.set()
            return
        await apply_many(self, entries)

    monkeypatch.setattr(AccountStore, "apply_many", slow_count)
    await recognise(stack, pid, 7)
    await until(lambda: _true(counting.is_set()))
    clear_doors(stack)
    # The gateway hears the entry's event while the count waits, and reads the account again.
    seen = []
    while not counted.is_set():
        seen.append((await stack.graphql(ME, actor=pid))["me"]["balance"])
        await asyncio.sleep(0.05)
    assert "GET /accounts/me" in stack.incentives_door.paths(), "no read while counting"
    assert before in seen  # the old balance was read after the event (the race happened)

    async def credited() -> bool:
        return bool((await stack.graphql(ME, actor=pid))["me"]["balance"] == before + 7)

    await until(credited)  # not 30 s later
