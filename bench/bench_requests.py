"""Requests service benchmark: department-queue listing at 1k vs 100k requests, and the time
from an HTTP submit to its event on Kafka.

    MONGO_URL=... KAFKA_BOOTSTRAP_SERVERS=... uv run python bench/bench_requests.py

Targets (issues 3 and 7): p99 of the filtered queue listing at 100k within 2x of 1k, with the
server's plan (explain) printed; the `{_id, version}` save at 1k vs 100k; submit-to-Kafka
p50/p99. Uses a database and topics of its own and drops the database afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from pymongo.errors import PyMongoError

from icr.kit.mongo import Mongo, winning_index
from icr.kit.outbox import OUTBOX_INDEXES, Outbox
from icr.kit.testing import auth_settings_for_test, bearer
from icr.requests import store as store_module
from icr.requests.domain import (
    Actor,
    BusinessCalendar,
    CatalogItem,
    Priority,
    Role,
    ServiceRequest,
    Status,
    Targets,
    visibility,
)
from icr.requests.main import build_app
from icr.requests.settings import RequestsSettings
from icr.requests.store import RequestFilters, RequestQuery, RequestStore
from icr.requests.store.query import build_filter, serving_index, sort_spec

DEPARTMENTS = [f"d{i:02d}" for i in range(10)]
OPEN = (Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.WAITING_ON_REQUESTER)
START = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
SMALL = 1_000
# The figure; the in-memory stand-in needs a heap of about 2 GB or more to hold it.
LARGE = int(os.environ.get("BENCH_REQUESTS", "100000"))
SUBMITS = int(os.environ.get("BENCH_SUBMITS", "300"))


def settings(tag: str) -> RequestsSettings:
    """MONGO_URL and KAFKA_BOOTSTRAP_SERVERS come from the environment (pydantic-settings)."""
    run = secrets.token_hex(3)
    return RequestsSettings(
        mongo_db=f"bench_{tag}_{run}",
        kafka_topic_prefix=f"bench{run}.",
        bootstrap_admins="admin",
        outbox_poll_seconds=0.2,
        log_level="WARNING",
        # Callers carry tokens of a development issuer made for this run, as in the tests.
        **auth_settings_for_test(),
    )


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- filler ------------------------------------------------------------------------------------


def filler(n: int, first: int, rng: random.Random) -> list[ServiceRequest]:
    """Requests spread over 10 provider departments and 90 days, in every status."""
    calendar = BusinessCalendar.standard("Asia/Shanghai")
    items = {
        d: CatalogItem(
            id=f"item-{d}",
            version=1,
            provider_department_id=d,
            name={"en": f"Service of {d}"},
            owning_team=f"team-{d}",
            targets={p: Targets(timedelta(hours=4), timedelta(hours=40)) for p in Priority},
        )
        for d in DEPARTMENTS
    }
    out = []
    for i in range(first, first + n):
        provider = rng.choice(DEPARTMENTS)
        at = START + timedelta(minutes=(i * 37) % (90 * 24 * 60))
        request = ServiceRequest.submit(
            request_id=str(uuid.uuid4()),
            title=f"filler {i}",
            item=items[provider],
            requester_id=f"p{rng.randrange(5000)}",
            requester_department_id=rng.choice(DEPARTMENTS),
            form={},
            calendar=calendar,
            at=at,
            priority=rng.choice(list(Priority)),
        )
        roll = rng.random()
        later = at + timedelta(minutes=30)
        if roll < 0.6:
            request.accept(by="agent", at=later)
        if roll < 0.45:
            request.start_work(by="agent", at=later)
        if roll < 0.35:
            request.resolve(by="agent", at=later + timedelta(hours=2), note="done")
        if roll < 0.25:
            request.close(by=request.requester_id, at=later + timedelta(hours=3))
        request.pull_events()
        out.append(request)
    return out


async def fill(store: RequestStore, n: int, first: int, rng: random.Random) -> float:
    started = time.perf_counter()
    for chunk in range(first, first + n, 2_000):
        await store.bulk_insert(filler(min(2_000, first + n - chunk), chunk, rng))
    return time.perf_counter() - started


# --- listing -----------------------------------------------------------------------------------


def queue_query(limit: int = 50) -> RequestQuery:
    agent = Actor("agent", "d07", frozenset({Role.AGENT}))
    return RequestQuery(
        visibility=visibility(agent),
        filters=RequestFilters(provider_department_ids=("d07",), statuses=OPEN),
        limit=limit,
    )


async def time_listing(store: RequestStore, *, samples: int, budget_s: float) -> list[float]:
    query = queue_query()
    for _ in range(30):  # warm-up (the 1k figure comes first, while the JIT is still cold)
        await store.list(query)
    out: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(out) < samples and (len(out) < 20 or time.perf_counter() < deadline):
        started = time.perf_counter()
        page = await store.list(query)
        out.append((time.perf_counter() - started) * 1000)
        assert len(page.items) == query.limit, "the queue should fill a page"
    return out


def matching_index(query: RequestQuery) -> str:
    requests_indexes = store_module.INDEXES["requests"]
    name = serving_index(query, requests_indexes)
    spec = next((m.document for m in requests_indexes if m.document["name"] == name), None)
    return f"{name} {dict(spec['key'])}" if spec else "none"


async def time_batch(store: RequestStore, ids: list[str], *, samples: int) -> list[float]:
    """The gateway's batch read by ids: served by the unique `_id` index even on the stand-in."""
    rng = random.Random(3)
    out = []
    for _ in range(samples):
        wanted = rng.sample(ids, 50)
        started = time.perf_counter()
        found = await store.by_ids(wanted)
        out.append((time.perf_counter() - started) * 1000)
        assert len(found) == 50
    return out


async def time_save(store: RequestStore, ids: list[str], *, samples: int) -> list[float]:
    """The optimistic-concurrency save's write: `update_one({_id, version}, ...)`, the shape of
    every aggregate save and of the relay's claim and releases."""
    rng = random.Random(11)
    versions = {
        d["_id"]: d["version"]
        for d in await store.collection.find({"_id": {"$in": ids}}, {"version": 1}).to_list()
    }
    out = []
    for i in range(samples + 20):  # the first 20 are warm-up
        key = rng.choice(ids)
        started = time.perf_counter()
        result = await store.collection.update_one(
            {"_id": key, "version": versions[key]}, {"$set": {"version": versions[key] + 1}}
        )
        if i >= 20:
            out.append((time.perf_counter() - started) * 1000)
        assert result.modified_count == 1
        versions[key] += 1
    return out


def plan_summary(explain: dict[str, Any]) -> str:
    planner = explain.get("queryPlanner", {})
    winning = planner.get("winningPlan", explain)
    stages = []
    node: Any = winning
    while isinstance(node, dict):
        stage = node.get("stage")
        if stage:
            stages.append(stage + (f"({node['indexName']})" if "indexName" in node else ""))
        node = node.get("inputStage") or (node.get("inputStages") or [None])[0]
    return " <- ".join(stages) or json.dumps(explain, default=str)[:400]


async def bench_listing() -> dict[str, Any]:
    cfg = settings("list")
    mongo = Mongo(cfg)
    store = RequestStore(mongo, Outbox(cfg), cfg.policy)
    indexes = dict(store_module.INDEXES)
    indexes["requests"] = [*indexes["requests"], *OUTBOX_INDEXES]
    await mongo.ensure_indexes(indexes)
    rng = random.Random(7)
    results: dict[str, Any] = {}
    try:
        results["fill_1k_s"] = await fill(store, SMALL, 0, rng)
        small = await time_listing(store, samples=300, budget_s=15)
        first_ids = [d["_id"] for d in await store.collection.find({}, {"_id": 1}).to_list()]
        batch_small = await time_batch(store, first_ids, samples=200)
        save_small = await time_save(store, first_ids, samples=300)
        try:
            results["fill_100k_s"] = await fill(store, LARGE - SMALL, SMALL, rng)
        except PyMongoError as exc:
            raise SystemExit(
                f"loading {LARGE} requests failed ({exc!r:.200}); the in-memory Mongo stand-in "
                "may be out of heap: give its JVM more (-Xmx) or set BENCH_REQUESTS lower"
            ) from None
        large = await time_listing(store, samples=300, budget_s=30)
        batch_large = await time_batch(store, first_ids, samples=200)
        save_large = await time_save(store, first_ids, samples=300)
        results["save_plan"] = str(
            await winning_index(
                store.collection, {"_id": first_ids[0], "version": 1}, update={"$set": {"x": 1}}
            )
        )
        results["query"] = f"filter {build_filter(queue_query())}, sort {sort_spec(queue_query())}"
        results["index"] = matching_index(queue_query())
        try:
            explain = await store.explain_list(queue_query())
            results["plan"] = plan_summary(explain)
            stats = explain.get("executionStats", {})
            results["examined"] = (
                f"{stats.get('nReturned')} returned, {stats.get('totalKeysExamined')} keys and "
                f"{stats.get('totalDocsExamined')} documents examined"
            )
            results["plan_raw"] = json.dumps(explain, default=str)[:1500]
        except Exception as exc:  # the stand-in may not implement explain
            results["plan"] = f"explain not available: {exc!r}"[:300]
        for name, samples in (
            ("1k", small),
            ("100k", large),
            ("batch_1k", batch_small),
            ("batch_100k", batch_large),
            ("save_1k", save_small),
            ("save_100k", save_large),
        ):
            results[f"{name}_p50_ms"] = statistics.median(samples)
            results[f"{name}_p99_ms"] = percentile(samples, 99)
            results[f"{name}_samples"] = len(samples)
        results["p99_ratio"] = results["100k_p99_ms"] / results["1k_p99_ms"]
        results["p50_ratio"] = results["100k_p50_ms"] / results["1k_p50_ms"]
    finally:
        await mongo.client.drop_database(cfg.database)
        await mongo.close()
    return results


# --- submit to Kafka ---------------------------------------------------------------------------


async def seed(http: httpx.AsyncClient) -> None:
    admin = bearer("admin")
    week = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar = {"timezone": "UTC", "week": week}
    for dept in ("it", "sales"):
        body = {"name": {"en": dept}, "calendar": calendar}
        (await http.put(f"/departments/{dept}", json=body, headers=admin)).raise_for_status()
    body = {"name": "Ana", "department_id": "sales", "roles": ["employee"]}
    (await http.put("/people/ana", json=body, headers=admin)).raise_for_status()
    item = {
        "provider_department_id": "it",
        "name": {"en": "Laptop"},
        "owning_team": "desk",
        "fields": [{"type": "choice", "name": "model", "required": True, "options": ["a", "b"]}],
        "targets": {
            p: {"first_response_minutes": 60, "resolution_minutes": 960}
            for p in ("low", "medium", "high", "critical")
        },
    }
    (await http.put("/catalog/items/laptop", json=item, headers=admin)).raise_for_status()


async def bench_submit_to_kafka(*, submits: int, gap_s: float) -> dict[str, Any]:
    """Sequential submits through the HTTP API, `gap_s` apart; latency is POST start to the
    submitted event arriving at a consumer of the topic."""
    cfg = settings("submit")
    app = build_app(cfg)
    received: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        cfg.topic_name("icr.requests.request"),
        bootstrap_servers=cfg.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
    )

    async def consume() -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=50)).values():
                now = time.perf_counter()
                for record in records:
                    if b'"requests.request.submitted"' in record.value:
                        received.setdefault(record.key.decode(), now)

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            async with asyncio.timeout(60):
                while (await http.get("/health/ready")).status_code != 200:
                    await asyncio.sleep(0.1)
            await seed(http)
            await consumer.start()
            reader = asyncio.create_task(consume())
            sent: dict[str, float] = {}
            http_ms: list[float] = []
            body = {"catalog_item_id": "laptop", "title": "bench", "form": {"model": "a"}}
            try:
                # Warm-up (topic metadata, connection pools), not measured.
                ana = bearer("ana")
                await http.post("/requests", json=body, headers=ana)
                for _ in range(submits):
                    started = time.perf_counter()
                    response = await http.post("/requests", json=body, headers=ana)
                    http_ms.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                    sent[response.json()["id"]] = started
                    if gap_s:
                        await asyncio.sleep(gap_s)
                async with asyncio.timeout(60):
                    while not set(sent) <= set(received):
                        await asyncio.sleep(0.05)
            finally:
                reader.cancel()
                await consumer.stop()
            runtime = app.state.runtime
            await runtime.mongo.client.drop_database(cfg.database)
    latencies = [(received[k] - t) * 1000 for k, t in sent.items()]
    return {
        "submits": len(latencies),
        "kafka_p50_ms": statistics.median(latencies),
        "kafka_p99_ms": percentile(latencies, 99),
        "kafka_max_ms": max(latencies),
        "http_p50_ms": statistics.median(http_ms),
        "http_p99_ms": percentile(http_ms, 99),
    }


async def main() -> None:
    print(f"store: {os.environ.get('MONGO_URL', '(default)')}")
    print(f"kafka: {os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '(default)')}")
    listing = await bench_listing()
    print(f"filled 1k in {listing['fill_1k_s']:.1f}s, {LARGE} in {listing['fill_100k_s']:.1f}s")
    print("department queue (10 departments, open statuses, newest first, 50 per page):")
    label = f"{LARGE // 1000}k"
    for size in ("1k", "100k"):
        print(
            f"  {size if size == '1k' else label:>4}: p50 {listing[f'{size}_p50_ms']:8.2f} ms   "
            f"p99 {listing[f'{size}_p99_ms']:8.2f} ms   ({listing[f'{size}_samples']} samples)"
        )
    verdict = "within" if listing["p99_ratio"] <= 2 else "NOT within"
    print(
        f"  p99 ratio {label}/1k: {listing['p99_ratio']:.2f}x ({verdict} the 2x target); "
        f"p50 ratio {listing['p50_ratio']:.2f}x"
    )
    batch_ratio = listing["batch_100k_p99_ms"] / listing["batch_1k_p99_ms"]
    print(
        f"  for contrast, a batch read of 50 ids (unique _id index, the gateway's path): "
        f"p99 {listing['batch_1k_p99_ms']:.2f} ms at 1k, {listing['batch_100k_p99_ms']:.2f} ms "
        f"at {label} ({batch_ratio:.2f}x)"
    )
    save_ratio = listing["save_100k_p99_ms"] / listing["save_1k_p99_ms"]
    print(
        f"  optimistic save update_one({{_id, version}}) (plan: {listing['save_plan']}): "
        f"p50 {listing['save_1k_p50_ms']:.2f} / p99 {listing['save_1k_p99_ms']:.2f} ms at 1k, "
        f"p50 {listing['save_100k_p50_ms']:.2f} / p99 {listing['save_100k_p99_ms']:.2f} ms at "
        f"{label} (p99 {save_ratio:.2f}x)"
    )
    print(f"  query: {listing['query']}")
    print(f"  declared index with that prefix: {listing['index']}")
    print(f"  server's plan: {listing['plan']}")
    if "examined" in listing:
        print(f"  at {label}: {listing['examined']}")
    if "plan_raw" in listing:
        print(f"  explain (raw, truncated): {listing['plan_raw']}")
    print("submit -> event on Kafka (HTTP API in-process, one submit at a time):")
    for mode, submits, gap in (
        ("back to back", SUBMITS, 0.0),
        ("paced, 100 ms apart", max(SUBMITS // 3, 20), 0.1),
    ):
        r = await bench_submit_to_kafka(submits=submits, gap_s=gap)
        print(
            f"  {mode:>20} ({r['submits']} submits): p50 {r['kafka_p50_ms']:6.1f} ms   "
            f"p99 {r['kafka_p99_ms']:6.1f} ms   max {r['kafka_max_ms']:6.1f} ms   "
            f"(the POST alone: p50 {r['http_p50_ms']:.1f} ms, p99 {r['http_p99_ms']:.1f} ms)"
        )


if __name__ == "__main__":
    asyncio.run(main())
