"""Durable timers on the real store: due work runs once across replicas and after restarts,
handlers keep their lease while they run, lose it cleanly, and clocks a minute off change
nothing (leases are judged on the store's clock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, PyMongoError

from icr.kit.lease import CLOCK_COLLECTION, LeaseLost, ServerClock, utcnow
from icr.kit.mongo import Mongo
from icr.kit.scheduler import DueWork, due_index, due_lease
from icr.kit.testing import proxied, service_settings_for_test

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


async def due_now(mongo: Mongo, key: str = "t") -> Any:
    timers = mongo.collection("timers")
    await timers.insert_one({"_id": key, "due_at": datetime.now(UTC) - timedelta(seconds=1)})
    return timers


def replica(timers: Any, name: str, handler: Any, **kw: Any) -> DueWork:
    return DueWork(timers, due_field="due_at", handler=handler, owner=name, **kw)


def finish(timers: Any, done: list[str], name: str) -> Any:
    async def handler(doc_id: Any, at: datetime) -> None:
        done.append(name)
        await timers.update_one({"_id": doc_id}, {"$set": {"due_at": None}})

    return handler


async def test_a_timer_whose_handler_died_is_retried_after_its_lease(mongo: Mongo) -> None:
    timers = await due_now(mongo)

    async def crash(doc_id: Any, at: datetime) -> None:
        raise RuntimeError("process died mid-timer")

    assert await replica(timers, "a", crash, lease_seconds=1.5).run_due() == 0
    done: list[str] = []
    restarted = replica(timers, "b", finish(timers, done, "b"), lease_seconds=1.5)
    assert await restarted.run_due() == 0  # the lease holds
    async with asyncio.timeout(10):
        while not await restarted.run_due():  # real seconds: leases are about live processes
            await asyncio.sleep(0.05)
    assert await restarted.run_due() == 0
    assert done == ["b"]


async def test_a_handler_slower_than_its_lease_keeps_it_by_renewal(mongo: Mongo) -> None:
    timers = await due_now(mongo)
    started, may_finish = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def slow(doc_id: Any, at: datetime) -> None:
        started.set()
        await may_finish.wait()
        await finish(timers, done, "slow")(doc_id, at)

    running = asyncio.create_task(replica(timers, "a", slow, lease_seconds=1.5).run_due())
    await asyncio.wait_for(started.wait(), 10)
    other = replica(timers, "b", finish(timers, done, "b"), lease_seconds=1.5)
    await asyncio.sleep(4)  # more than two lease lengths pass while the handler runs
    # Before: the lease (never renewed) had run out and the other replica ran the timer too.
    assert await other.run_due() == 0
    may_finish.set()
    assert await running == 1
    assert done == ["slow"]


async def test_a_handler_that_lost_its_lease_is_stopped_and_leaves_the_new_lease_alone(
    mongo: Mongo,
) -> None:
    timers = await due_now(mongo)
    runs: list[str] = []
    a_started, a_stopped, b_started, b_may_finish = (asyncio.Event() for _ in range(4))

    async def a_handler(doc_id: Any, at: datetime) -> None:
        runs.append("a")
        a_started.set()
        try:
            await asyncio.Event().wait()  # overruns for ever, as a stuck handler would
        finally:
            a_stopped.set()

    async def b_handler(doc_id: Any, at: datetime) -> None:
        runs.append("b")
        b_started.set()
        await b_may_finish.wait()

    async def c_handler(doc_id: Any, at: datetime) -> None:
        runs.append("c")

    a = asyncio.create_task(replica(timers, "a", a_handler, lease_seconds=1).run_due(limit=1))
    await asyncio.wait_for(a_started.wait(), 10)
    # As if A had been paused past its lease: the lease is over in the store, B takes over.
    await timers.update_one(
        {"_id": "t"}, {"$set": {"due_at_lease": datetime(2000, 1, 1, tzinfo=UTC)}}
    )
    b = asyncio.create_task(replica(timers, "b", b_handler, lease_seconds=3).run_due(limit=1))
    await asyncio.wait_for(b_started.wait(), 10)
    # A finds out at its next renewal and its handler is cancelled (before: it ran on).
    await asyncio.wait_for(a_stopped.wait(), 5)
    assert await asyncio.wait_for(a, 5) == 0
    # A's release must leave B's lease alone, or C would run the timer while B still runs it.
    assert await replica(timers, "c", c_handler, lease_seconds=3).run_due() == 0
    b_may_finish.set()
    await b
    assert runs == ["a", "b"]


async def test_replicas_with_clocks_a_minute_apart_respect_each_others_leases(
    mongo: Mongo,
) -> None:
    timers = await due_now(mongo)
    clock = mongo.collection(CLOCK_COLLECTION)

    def skewed(minutes: int) -> ServerClock:
        return ServerClock(clock, local=lambda: utcnow() + timedelta(minutes=minutes))

    started, may_finish = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def holding(doc_id: Any, at: datetime) -> None:
        runs.append("behind")
        started.set()
        await may_finish.wait()
        await timers.update_one({"_id": doc_id}, {"$set": {"due_at": None}})

    async def stealing(doc_id: Any, at: datetime) -> None:
        runs.append("ahead")

    # A replica a minute behind holds the timer; its lease must really last (before: it wrote a
    # lease a minute in the past), and one a minute ahead must not take it (before: it did).
    behind = replica(timers, "behind", holding, lease_seconds=2, lease_clock=skewed(-1))
    running = asyncio.create_task(behind.run_due(limit=1))
    await asyncio.wait_for(started.wait(), 10)
    ahead = replica(timers, "ahead", stealing, lease_seconds=2, lease_clock=skewed(+1))
    assert await ahead.run_due() == 0
    await asyncio.sleep(3)  # past a lease length: renewal, judged on the store's clock
    assert await ahead.run_due() == 0
    may_finish.set()
    assert await running == 1
    assert runs == ["behind"]


class RenewalsRefused:
    """The timers collection, but every renewal of a lease fails at once, as a store that
    answers with errors (a reset connection, a stepped-down primary) does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def update_one(self, filter: dict[str, Any], update: dict[str, Any], **kw: Any) -> Any:
        if "due_at_lease_owner" in filter and "due_at_lease" in update.get("$set", {}):
            raise AutoReconnect("injected: connection reset during renewal")
        return await self.inner.update_one(filter, update, **kw)


async def test_a_holder_whose_renewals_fail_at_once_stops_within_its_margin(
    mongo: Mongo,
) -> None:
    timers = mongo.collection("timers")
    await timers.insert_one({"_id": "t", "due_at": datetime.now(UTC) - timedelta(seconds=1)})
    stopped: list[float] = []
    loop = asyncio.get_running_loop()

    async def endless(doc_id: Any, at: datetime) -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.append(loop.time())

    lease_seconds = 6.0
    work = DueWork(
        RenewalsRefused(timers),  # type: ignore[arg-type]
        due_field="due_at",
        handler=endless,
        owner="a",
        lease_seconds=lease_seconds,
    )
    claimed = loop.time()
    running = asyncio.create_task(work.run_due(limit=1))
    try:
        async with asyncio.timeout(20):
            while not stopped:
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    # The holder is sure of its lease until 4.8 s after the claim (the lease less a fifth).
    # Before: after the failed renewals at 2 s and 4 s it slept another 2 s, so the handler ran
    # until 6 s, when the store's clock lets another replica take the timer over.
    assert stopped[0] - claimed < lease_seconds * 0.8 + 0.5


async def test_the_store_clock_estimate_ignores_a_replicas_wall_clock_stepped_after_a_sync(
    mongo: Mongo,
) -> None:
    step = timedelta(0)
    stepped = ServerClock(
        mongo.collection(CLOCK_COLLECTION), local=lambda: utcnow() + timedelta(minutes=3) + step
    )
    await stepped.now()  # synced while this replica's wall clock is 3 minutes ahead
    step = timedelta(seconds=60)  # then NTP (or a resumed VM) steps it another minute
    reference = await ServerClock(mongo.collection(CLOCK_COLLECTION)).now()
    # Before: the estimate was wall clock + offset, so it moved with the step until the next
    # refresh (30 s): the replica saw live leases a minute over and took them.
    assert abs((await stepped.now() - reference).total_seconds()) < 1.0


async def test_a_renewal_against_a_stalled_store_ends_by_pymongos_deadline_not_cancellation() -> (
    None
):
    direct = service_settings_for_test()
    host, port = direct.mongo_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    async with proxied(host, int(port)) as proxy:
        url = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
        through = Mongo(direct.model_copy(update={"mongo_url": url}))
        try:
            timers = through.collection("timers")
            await timers.insert_one({"_id": "s", "due_at": None})
            clock = ServerClock(through.collection(CLOCK_COLLECTION))
            lease, fields = await due_lease(
                timers, "due_at", key="s", owner="a", lease_seconds=1.5, clock=clock
            )
            await timers.update_one({"_id": "s"}, {"$set": fields})
            proxy.pause()  # the store stalls: the renewal's round trip never comes back
            with pytest.raises(LeaseLost) as lost:
                await asyncio.wait_for(lease._keep(), 10)
            # Before: asyncio.timeout cancelled the renewal inside the driver (a TimeoutError);
            # now PyMongo ends it with its own timeout error, leaving its pool usable.
            cause = lost.value.__cause__
            assert isinstance(cause, PyMongoError)
            assert cause.timeout
            proxy.resume()
            async with asyncio.timeout(10):
                assert await timers.find_one({"_id": "s"}) is not None
            await through.client.drop_database(direct.database)
        finally:
            await through.close()


class LateClockAnswer:
    """The clock collection, but from the second sync on the answer comes back `delay` seconds
    after the store read its clock: a busy store, or a slow network on the way back."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner, self.delay, self.syncs = inner, delay, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def find_one_and_update(self, *args: Any, **kw: Any) -> Any:
        doc = await self.inner.find_one_and_update(*args, **kw)
        self.syncs += 1
        if self.syncs > 1:
            await asyncio.sleep(self.delay)
        return doc


async def test_a_slow_clock_sync_does_not_spoil_a_quick_ones_estimate(mongo: Mongo) -> None:
    late = LateClockAnswer(mongo.collection(CLOCK_COLLECTION), delay=3.0)
    clock = ServerClock(late, refresh_seconds=0.0)  # type: ignore[arg-type]
    await clock.now()  # a quick sync
    estimate = await clock.now()  # a slow one: the store's time is 1.5 s off its midpoint
    reference = await ServerClock(mongo.collection(CLOCK_COLLECTION)).now()
    # Before: the slow sync replaced the quick one, and the estimate was about 1.5 s behind.
    assert late.syncs == 2
    assert abs((reference - estimate).total_seconds()) < 0.5
