"""Incentives benchmark (issue 10): the incentives service on real Kafka and the store, each
figure next to its raw baseline measured in the same run.

    MONGO_URL=... KAFKA_BOOTSTRAP_SERVERS=... uv run python bench/bench_incentives.py

1. Backlog drain: N resolved requests (a `requests.request.resolved` and a
   `feedback.rating.submitted` each, 5 stars, SLA met: three ledger entries, their balances and
   leaderboard lines) turned into ledger entries, in resolutions per second, against a raw
   aiokafka loop doing one `insert_one` per record of the same topics. Target >= 0.25x.
2. Latency, paced: a resolution and its rating published -> the agent's points readable in the
   store, p50 and p99, next to the raw Kafka produce -> consume latency of the same run.

Sizes: BENCH_INC_RESOLUTIONS (1000), BENCH_INC_SAMPLES (100). Databases and topics are the
run's own; databases are dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from bench_requests import percentile  # bench/ is on sys.path when run as a script
from pymongo import AsyncMongoClient

from icr.contracts import Envelope, topics
from icr.contracts.feedback import RatingSubmitted
from icr.contracts.requests import RequestResolved
from icr.incentives.main import build_app
from icr.incentives.settings import IncentivesSettings
from icr.kit.kafka import build_producer, encode, ensure_topics
from icr.kit.testing import auth_settings_for_test

MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27018/?directConnection=true")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
N = int(os.environ.get("BENCH_INC_RESOLUTIONS", "1000"))
SAMPLES = int(os.environ.get("BENCH_INC_SAMPLES", "100"))
RUN = secrets.token_hex(3)
SETTINGS = IncentivesSettings(
    mongo_url=MONGO_URL,
    kafka_bootstrap_servers=KAFKA,
    kafka_topic_prefix=f"benchi{RUN}.",
    mongo_db=f"benchi_{RUN}",
    log_level="WARNING",
    **auth_settings_for_test(),
)
RAW_DB = f"benchi_raw_{RUN}"
ENTRIES_PER_RESOLUTION = 3  # agent, department share, rater
LATENCY = topics.Topic("bench.latency", partitions=1, owner="bench")


def resolution(n: int, assignee: str) -> list[tuple[str, Envelope]]:
    """One request's resolution and its 5-star rating, as (topic, envelope). Each request comes
    from a department of its own, so the department pair cap never bites."""
    request_id, dept, now = f"r{RUN}-{n}", f"dept-{n}", datetime.now(UTC)
    resolved = RequestResolved(
        request_id=request_id,
        resolved_by=assignee,
        resolved_at=now,
        note="done",
        assignee_id=assignee,
        provider_department_id="it",
        requester_id=f"asker-{n}",
        requester_department_id=dept,
        first_response_met=True,
        resolution_met=True,
        first_response_seconds=60,
        resolution_seconds=600,
    )
    rated = RatingSubmitted(
        request_id=request_id,
        rater_id=f"asker-{n}",
        rater_department_id=dept,
        provider_department_id="it",
        assignee_id=assignee,
        stars=5,
        submitted_at=now,
    )
    # Numbered as the producing services' relays number their aggregates' events (the
    # consumer then orders and deduplicates them by position, not by an inbox record each).
    return [
        (
            SETTINGS.topic_name(topics.REQUESTS.name),
            Envelope.wrap(resolved, source="requests", sequence=1),
        ),
        (
            SETTINGS.topic_name(topics.RATINGS.name),
            Envelope.wrap(rated, source="feedback", sequence=1),
        ),
    ]


async def produce(producer: Any, pairs: list[tuple[str, Envelope]]) -> None:
    futures = [
        await producer.send(topic, encode(e), key=e.aggregate_id.encode()) for topic, e in pairs
    ]
    await asyncio.gather(*futures)


async def rate_of(count: Any, target: int) -> float:
    """Items per second between the first and the `target`-th appearing."""
    first = None
    async with asyncio.timeout(max(300.0, target / 5)):
        while True:
            seen = await count()
            now = time.perf_counter()
            if seen and first is None:
                first = now
            if seen >= target:
                assert first is not None
                return target / max(now - first, 1e-3)
            await asyncio.sleep(0.05)


async def raw_drain(client: Any) -> float:
    """The baseline: an aiokafka loop over the same topics, one insert_one per record."""
    things = client[RAW_DB]["things"]
    consumer = AIOKafkaConsumer(
        SETTINGS.topic_name(topics.REQUESTS.name),
        SETTINGS.topic_name(topics.RATINGS.name),
        bootstrap_servers=KAFKA,
        group_id=f"benchi{RUN}.raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=200,
    )
    await consumer.start()

    async def loop() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    await things.insert_one({"_id": envelope.event_id, **envelope.data})
            if batches:
                await consumer.commit()

    task = asyncio.create_task(loop())
    try:
        # Two records per resolution: the rate in resolutions per second.
        return await rate_of(lambda: things.estimated_document_count(), 2 * N) / 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def raw_latency(producer: Any) -> list[float]:
    topic = SETTINGS.topic_name(LATENCY.name)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, auto_offset_reset="latest")
    await consumer.start()
    await asyncio.sleep(1.0)  # assigned before the first send
    samples: list[float] = []
    try:
        for n in range(SAMPLES):
            sent = time.perf_counter()
            await producer.send_and_wait(topic, f"{n}".encode())
            async with asyncio.timeout(10):
                while True:
                    batch = await consumer.getmany(timeout_ms=50)
                    if any(r.value == f"{n}".encode() for rs in batch.values() for r in rs):
                        break
            samples.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
    return samples


async def icr_latency(producer: Any, accounts: Any) -> list[float]:
    async def one(n: int) -> float:
        assignee = f"lat-{n}"
        sent = time.perf_counter()
        await produce(producer, resolution(N + n, assignee))
        while True:
            doc = await accounts.find_one({"_id": assignee}, projection={"balance": 1})
            if doc is not None and doc.get("balance") == 10:
                return (time.perf_counter() - sent) * 1000
            await asyncio.sleep(0.002)

    tasks = []
    for n in range(SAMPLES):
        tasks.append(asyncio.create_task(one(n)))
        await asyncio.sleep(0.1)  # paced: 10 resolutions a second
    async with asyncio.timeout(120):
        return list(await asyncio.gather(*tasks))


async def relay_done(ledger: Any) -> None:
    """Until no ledger entry has events waiting to be published."""
    async with asyncio.timeout(300):
        while await ledger.count_documents({"outbox_pending": True}, limit=1):
            await asyncio.sleep(0.2)


async def settled_group(runtime: Any) -> None:
    """Until every member of the service's group holds partitions and the assignment has not
    changed for two seconds."""
    members = getattr(SETTINGS, "consumer_members", 1)

    def assignment() -> list[frozenset[Any]]:
        runners = [r for r in runtime.consumers if r.group.endswith("icr.incentives")]
        consumers = [r._consumer for r in runners]  # a bench looking in: no public accessor
        return [frozenset(c.assignment()) if c else frozenset() for c in consumers]

    async with asyncio.timeout(120):
        stable_since, last = time.monotonic(), assignment()
        while True:
            await asyncio.sleep(0.2)
            now = assignment()
            if now != last:
                stable_since, last = time.monotonic(), now
            elif len(now) >= members and all(now) and time.monotonic() - stable_since > 2:
                return


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    others = [topics.REQUESTS, topics.RATINGS, topics.DIRECTORY]  # owned by other services
    await ensure_topics(SETTINGS, [*others, *topics.INCENTIVES, LATENCY])
    producer = build_producer(SETTINGS)
    await producer.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL)
    try:
        backlog = [p for n in range(N) for p in resolution(n, f"agent-{n % 50}")]
        ledger = client[SETTINGS.database]["ledger"]
        app = build_app(SETTINGS)
        async with LifespanManager(app):
            # The members join the group one after the other, and each join pauses every member
            # for a rebalance (seconds): measured from the first entry, a drain that starts
            # mid-join counts those pauses, which a running service does not have. So the group
            # settles first, then the backlog is published (far faster than either side drains
            # it); the raw loop drains the same records afterwards, from the start.
            await settled_group(app.state.runtime)
            await produce(producer, backlog)
            icr_rate = await rate_of(
                lambda: ledger.estimated_document_count(), ENTRIES_PER_RESOLUTION * N
            )
            # The relay publishes the entries' events after they are written: the raw loop
            # starts once it is done, so it does not share the CPU with the service's tail.
            await relay_done(ledger)
            raw_rate = await raw_drain(client)
            kafka = await raw_latency(producer)
            icr = await icr_latency(producer, client[SETTINGS.database]["accounts"])
        print(f"incentives benchmark ({N} resolutions backlog, {SAMPLES} latency samples)")
        print("| figure | ICR | raw baseline (same run) | ratio |")
        print("|---|---|---|---|")
        print(
            f"| resolutions -> ledger entries | {icr_rate:.0f}/s | {raw_rate:.0f}/s "
            f"(aiokafka + insert_one per record) | {icr_rate / raw_rate:.2f}x (target >= 0.25x) |"
        )
        for p in (50, 99):
            print(
                f"| resolve -> points readable, p{p} | {percentile(icr, p):.0f} ms | "
                f"{percentile(kafka, p):.1f} ms (Kafka produce -> consume) | |"
            )
    finally:
        await producer.stop()
        for db in (SETTINGS.database, RAW_DB):
            await client.drop_database(db)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
