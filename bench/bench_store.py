"""The on-disk (H2) stand-in that `make up` runs: department queue at 1k vs 100k documents, the
`{_id, version}` save, and how long a restart takes to rebuild the secondary indexes in memory.

    uv run python bench/bench_store.py        (BENCH_DOCS=100000 by default)

Starts a private H2 stand-in of its own (free port, temporary file) from this checkout's launcher
sources, so it needs no running infrastructure and leaves none behind.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.store.conftest import private_store

LARGE = int(os.environ.get("BENCH_DOCS", "100000"))
SMALL = 1_000
STATUSES = ["submitted", "accepted", "in_progress", "waiting_on_requester", "resolved", "closed"]
OPEN = STATUSES[:4]
START = datetime(2024, 1, 1, tzinfo=UTC)
QUEUE = {"provider_department_id": "d07", "status": {"$in": OPEN}}
SORT = [("submitted_at", DESCENDING), ("_id", DESCENDING)]


def docs(first: int, n: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "_id": f"r{i:07d}",
            "version": 1,
            "provider_department_id": f"d{rng.randrange(10):02d}",
            "requester_id": f"p{rng.randrange(5000)}",
            "status": rng.choice(STATUSES),
            "submitted_at": START + timedelta(minutes=i),
            "due_at": START + timedelta(minutes=rng.randrange(100_000)),
            "title": f"request {i}",
        }
        for i in range(first, first + n)
    ]


def fill(coll: Any, first: int, n: int, rng: random.Random) -> None:
    for chunk in range(first, first + n, 5_000):
        coll.insert_many(docs(chunk, min(5_000, first + n - chunk), rng), ordered=False)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn: Any, samples: int) -> list[float]:
    fn()
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(name: str, samples: list[float]) -> str:
    p50, p99 = statistics.median(samples), percentile(samples, 99)
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms ({name})"


def measure(coll: Any, n: int) -> dict[str, list[float]]:
    rng = random.Random(n)
    ids = [f"r{rng.randrange(n):07d}" for _ in range(200)]
    versions = {i: coll.find_one({"_id": i})["version"] for i in set(ids)}
    queue = timed(lambda: coll.find(QUEUE).sort(SORT).limit(21).to_list(), 200)
    saves = []
    for key in ids:
        started = time.perf_counter()
        coll.update_one({"_id": key, "version": versions[key]}, {"$inc": {"version": 1}})
        saves.append((time.perf_counter() - started) * 1000)
        versions[key] += 1
    return {"queue": queue, "save": saves}


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="icr-bench-h2-"))
    rng = random.Random(7)
    results: dict[int, dict[str, list[float]]] = {}
    with private_store(folder, h2=True, heap="2g") as store:
        client: MongoClient[Any] = MongoClient(store.url, tz_aware=True)
        coll = client.bench.requests
        coll.create_index(
            [
                ("provider_department_id", ASCENDING),
                ("status", ASCENDING),
                ("submitted_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="queue_by_created",
        )
        coll.create_index([("provider_department_id", ASCENDING), ("due_at", ASCENDING)])
        coll.create_index([("requester_id", ASCENDING), ("submitted_at", DESCENDING)])
        fill(coll, 0, SMALL, rng)
        results[SMALL] = measure(coll, SMALL)
        started = time.perf_counter()
        fill(coll, SMALL, LARGE - SMALL, rng)
        print(f"H2 stand-in: loaded {LARGE} documents in {time.perf_counter() - started:.1f}s")
        results[LARGE] = measure(coll, LARGE)
        plan = coll.find(QUEUE).sort(SORT).limit(21).explain()
        client.close()
    started = time.perf_counter()
    with private_store(folder, h2=True, heap="2g") as store:
        up = time.perf_counter() - started
        opened = re.search(r"opened .* in (\d+) ms \((\d+) secondary", store.output())
        client = MongoClient(store.url, tz_aware=True)
        coll = client.bench.requests
        after = timed(lambda: coll.find(QUEUE).sort(SORT).limit(21).to_list(), 100)
        served = coll.find(QUEUE).sort(SORT).limit(21).explain()
        client.close()
    for n, r in results.items():
        print(f"  {n:>6} docs: queue {line('find.sort.limit(21)', r['queue'])}")
        print(f"  {n:>6} docs: save  {line('update_one({_id, version})', r['save'])}")
    ratio = percentile(results[LARGE]["queue"], 99) / percentile(results[SMALL]["queue"], 99)
    save_ratio = percentile(results[LARGE]["save"], 99) / percentile(results[SMALL]["save"], 99)
    print(f"  queue p99 {LARGE}/{SMALL}: {ratio:.2f}x; save p99: {save_ratio:.2f}x")
    stats = plan["executionStats"]
    print(
        f"  plan: {plan['queryPlanner']['winningPlan']['inputStage']['inputStage']['stage']} "
        f"{plan['queryPlanner']['winningPlan']['inputStage']['inputStage'].get('indexName')}, "
        f"{stats['totalDocsExamined']} documents examined for {stats['nReturned']} returned"
    )
    if opened:
        print(
            f"  restart: secondary indexes rebuilt in memory while opening: {opened.group(1)} ms "
            f"for {opened.group(2)} entries (whole restart until ready: {up:.1f}s)"
        )
    print(f"  after restart: queue {line('rebuilt index', after)}")
    print(f"  after restart the plan is {served['queryPlanner']['winningPlan']}"[:300])


if __name__ == "__main__":
    main()
