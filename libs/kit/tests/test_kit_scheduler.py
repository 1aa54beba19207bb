"""Durable timers on the real store: due work runs once across replicas and after restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from icr.kit.mongo import Mongo
from icr.kit.scheduler import DueWork, due_index
from icr.kit.testing import service_settings_for_test

pytestmark = pytest.mark.infra


@pytest.fixture
async def mongo():
    settings = service_settings_for_test()
    client = Mongo(settings)
    await client.ensure_indexes({"timers": [due_index("due_at")]})
    yield client
    await client.client.drop_database(settings.database)
    await client.close()


async def test_due_timers_fire_once_with_two_replicas(mongo: Mongo) -> None:
    timers = mongo.collection("timers")
    now = datetime.now(UTC)
    await timers.insert_many(
        [{"_id": i, "due_at": now - timedelta(seconds=1), "fired": 0} for i in range(30)]
        + [{"_id": 100, "due_at": now + timedelta(hours=1), "fired": 0}]
    )
    fired: list[tuple[str, Any]] = []

    def handler(replica: str):
        async def fire(doc_id: Any, at: datetime) -> None:
            fired.append((replica, doc_id))
            await asyncio.sleep(0.01)  # let the other replica try to grab the same timer
            # The handler's own write moves the due time, as a real one reschedules.
            await timers.update_one(
                {"_id": doc_id}, {"$inc": {"fired": 1}, "$set": {"due_at": None}}
            )

        return fire

    replicas = [
        DueWork(timers, due_field="due_at", handler=handler(name), owner=name) for name in "ab"
    ]
    await asyncio.gather(*(r.run_due() for r in replicas))

    assert sorted(doc_id for _, doc_id in fired) == list(range(30))
    assert await timers.count_documents({"fired": {"$gt": 1}}) == 0
    assert (await timers.find_one({"_id": 100}))["fired"] == 0


async def test_a_timer_whose_handler_died_is_retried_after_its_lease(mongo: Mongo) -> None:
    timers = mongo.collection("timers")
    now = datetime.now(UTC)
    await timers.insert_one({"_id": "t", "due_at": now - timedelta(seconds=1)})
    clock = [now]

    async def crash(doc_id: Any, at: datetime) -> None:
        raise RuntimeError("process died mid-timer")

    first = DueWork(
        timers,
        due_field="due_at",
        handler=crash,
        owner="a",
        lease_seconds=30,
        clock=lambda: clock[0],
    )
    assert await first.run_due() == 0

    done: list[Any] = []

    async def finish(doc_id: Any, at: datetime) -> None:
        done.append(doc_id)
        await timers.update_one({"_id": doc_id}, {"$set": {"due_at": None}})

    # A restarted replica: nothing while the lease holds, the timer once it has run out.
    restarted = DueWork(
        timers,
        due_field="due_at",
        handler=finish,
        owner="b",
        lease_seconds=30,
        clock=lambda: clock[0],
    )
    assert await restarted.run_due() == 0
    clock[0] = now + timedelta(seconds=31)
    assert await restarted.run_due() == 1
    assert await restarted.run_due() == 0
    assert done == ["t"]


async def test_an_overrunning_replica_does_not_free_the_lease_of_the_one_that_took_over(
    mongo: Mongo,
) -> None:
    timers = mongo.collection("timers")
    now = datetime.now(UTC)
    await timers.insert_one({"_id": "t", "due_at": now - timedelta(seconds=1)})
    clock = [now]
    runs: list[str] = []
    b_started, b_may_finish = asyncio.Event(), asyncio.Event()
    b_tasks: list[asyncio.Task[int]] = []

    def replica(name: str, handler: Any) -> DueWork:
        return DueWork(
            timers,
            due_field="due_at",
            handler=handler,
            owner=name,
            lease_seconds=30,
            clock=lambda: clock[0],
        )

    async def b_handler(doc_id: Any, at: datetime) -> None:
        runs.append("b")
        b_started.set()
        await b_may_finish.wait()

    async def a_handler(doc_id: Any, at: datetime) -> None:
        runs.append("a")
        if not b_tasks:  # A overruns its lease; B takes the timer over and is still at it
            clock[0] = now + timedelta(seconds=31)
            b_tasks.append(asyncio.create_task(replica("b", b_handler).run_due(limit=1)))
            await b_started.wait()

    async def c_handler(doc_id: Any, at: datetime) -> None:
        runs.append("c")

    # A finishes late. Releasing must leave B's lease alone, or A itself (looking for more due
    # work) and C would run the timer again while B still runs it.
    await replica("a", a_handler).run_due()
    await replica("c", c_handler).run_due()
    b_may_finish.set()
    await b_tasks[0]
    assert runs == ["a", "b"]
