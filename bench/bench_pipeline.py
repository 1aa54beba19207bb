"""Pipeline benchmark (issue 7): the services as processes over real HTTP, Kafka and the store,
each figure side by side with its raw baseline in the same run.

    MONGO_URL=... KAFKA_BOOTSTRAP_SERVERS=... uv run python bench/bench_pipeline.py

1. Submit throughput, 16 concurrent clients: the requests service against a bare FastAPI
   endpoint doing one `insert_one` (bench/bare_app.py, same uvicorn settings), with 1k and with
   100k requests stored. Targets: >= 0.3x the bare endpoint at both sizes; 1k/100k within 1.5x.
2. Pipeline at a paced 20 submits/s with 100k requests stored, three consecutive rounds:
   submit -> `submitted` event on Kafka (target p99 within 50 ms plus the relay's wake-up) and
   submit -> the feedback service's projection holding it (target p99 < 1 s), flat across rounds.
3. Backlog drain: the feedback service's consumer against a raw aiokafka loop doing one
   `insert_one` per record into the same store. Target >= 0.25x.

Sizes scale with BENCH_REQUESTS (100000), BENCH_ROUND_SECONDS (60), BENCH_THROUGHPUT_SECONDS
(15), BENCH_DRAIN_EVENTS (5000); BENCH_PARTS picks parts (throughput,pipeline,drain).
Every database and topic is the run's own; databases are dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from bench_requests import fill, percentile, seed  # bench/ is on sys.path when run as a script
from pymongo import AsyncMongoClient

from icr.contracts import Envelope
from icr.kit.mongo import Mongo
from icr.kit.outbox import Outbox
from icr.kit.testing import auth_settings_for_test, bearer
from icr.requests.settings import RequestsSettings
from icr.requests.store import RequestStore

REPO = Path(__file__).resolve().parents[1]
UVICORN = REPO / ".venv" / "bin" / "uvicorn"
MONGO_URL = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27018/?directConnection=true")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
SMALL = 1_000
LARGE = int(os.environ.get("BENCH_REQUESTS", "100000"))
CLIENTS = 16
THROUGHPUT_S = float(os.environ.get("BENCH_THROUGHPUT_SECONDS", "15"))
ROUND_S = float(os.environ.get("BENCH_ROUND_SECONDS", "60"))
RATE = 20.0
DRAIN_EVENTS = int(os.environ.get("BENCH_DRAIN_EVENTS", "5000"))
PARTS = set(os.environ.get("BENCH_PARTS", "throughput,pipeline,drain").split(","))
LABEL = f"{LARGE // 1000}k"
RUN = secrets.token_hex(3)
PREFIX = f"benchp{RUN}."
REQUESTS_DB, FEEDBACK_DB, BARE_DB, RAW_DB = (
    f"benchp_{name}_{RUN}" for name in ("requests", "feedback", "bare", "raw")
)
SUBMIT = {"catalog_item_id": "laptop", "title": "bench", "form": {"model": "a"}}
ANA = bearer("ana")  # a token of this run's development issuer, which the apps trust


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class App:
    """One ASGI app as a uvicorn process, as `make up` runs it (one worker, no access log)."""

    def __init__(
        self,
        name: str,
        target: str,
        env: dict[str, str],
        app_dir: str = "",
        ready_path: str = "/health/ready",
    ) -> None:
        self.name, self.target, self.port = name, target, free_port()
        self.ready_path = ready_path
        self.env = {**os.environ, "LOG_LEVEL": "WARNING", **env}
        self.app_dir = app_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log = REPO / ".local" / "bench" / f"{name}-{RUN}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        args = [str(UVICORN), self.target, "--port", str(self.port), "--no-access-log"]
        if self.app_dir:
            args += ["--app-dir", self.app_dir]
        with self.log.open("ab") as out:
            # Starting is instant; the wait for readiness below is the async part.
            self.process = subprocess.Popen(args, env=self.env, stdout=out, stderr=out)  # noqa: ASYNC220
        async with httpx.AsyncClient(base_url=self.url) as http:
            deadline = time.monotonic() + 60
            while True:
                if self.process.poll() is not None:
                    raise SystemExit(f"{self.name} exited at start; see {self.log}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.ready_path)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise SystemExit(f"{self.name} not ready after 60 s; see {self.log}")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            for _ in range(200):
                if self.process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                self.process.kill()
        self.process = None


def service_env(db: str) -> dict[str, str]:
    return {
        "MONGO_URL": MONGO_URL,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "MONGO_DB": db,
        "KAFKA_TOPIC_PREFIX": PREFIX,
        "BOOTSTRAP_ADMINS": "admin",
        **{name.upper(): value for name, value in auth_settings_for_test().items()},
    }


def summary(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return f"p50 {statistics.median(samples):7.1f} ms  p99 {percentile(samples, 99):7.1f} ms"


# --- 1. throughput ----------------------------------------------------------------------------


async def throughput(url: str, seconds: float) -> dict[str, Any]:
    """CLIENTS concurrent submit loops for `seconds`; completed submits per second."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        for _ in range(CLIENTS):  # warm-up: connections, caches
            (await http.post("/requests", json=SUBMIT, headers=ANA)).raise_for_status()
        stop = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await http.post("/requests", json=SUBMIT, headers=ANA)
                if response.status_code == 201:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - began
    return {"rate": len(latencies) / elapsed, "latencies": latencies, "errors": errors}


# --- 2. pipeline ------------------------------------------------------------------------------


class Watch:
    """When each request's `submitted` event reached Kafka and its rating reached feedback."""

    def __init__(self) -> None:
        self.on_kafka: dict[str, float] = {}
        self.in_feedback: dict[str, float] = {}
        self.pending_feedback: set[str] = set()
        self.raw: list[bytes] = []

    async def kafka(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            for records in (await consumer.getmany(timeout_ms=50)).values():
                now = time.perf_counter()
                for record in records:
                    if b'"requests.request.submitted"' in record.value:
                        self.on_kafka.setdefault(record.key.decode(), now)
                        if len(self.raw) < 50:
                            self.raw.append(record.value)

    async def feedback(self, ratings: Any) -> None:
        while True:
            wanted = list(self.pending_feedback)
            if wanted:
                found = await ratings.find({"_id": {"$in": wanted}}, {"_id": 1}).to_list()
                now = time.perf_counter()
                for doc in found:
                    self.in_feedback.setdefault(doc["_id"], now)
                    self.pending_feedback.discard(doc["_id"])
            await asyncio.sleep(0.02)


async def paced_round(url: str, watch: Watch, seconds: float) -> dict[str, Any]:
    sent: dict[str, float] = {}
    failures = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def submit(at: float) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            started = time.perf_counter()
            response = await http.post("/requests", json=SUBMIT, headers=ANA)
            if response.status_code != 201:
                failures += 1
                return
            key = response.json()["id"]
            sent[key] = started
            watch.pending_feedback.add(key)

        t0 = time.perf_counter() + 0.1
        await asyncio.gather(*(submit(t0 + i / RATE) for i in range(int(seconds * RATE))))
    async with asyncio.timeout(120):
        while not (set(sent) <= set(watch.on_kafka) and set(sent) <= set(watch.in_feedback)):
            await asyncio.sleep(0.05)
    kafka = [(watch.on_kafka[k] - t) * 1000 for k, t in sent.items()]
    feedback = [(watch.in_feedback[k] - t) * 1000 for k, t in sent.items()]
    return {"kafka": kafka, "feedback": feedback, "failures": failures, "submits": len(sent)}


# --- 3. backlog drain -------------------------------------------------------------------------


def backlog(samples: list[bytes], n: int) -> list[Envelope]:
    """`n` new submitted events shaped like real ones (ids and request ids fresh)."""
    models = [Envelope.model_validate_json(raw) for raw in samples]
    out = []
    for i in range(n):
        model = models[i % len(models)]
        request_id = str(uuid.uuid4())
        out.append(
            model.model_copy(
                update={
                    "event_id": str(uuid.uuid4()),
                    "aggregate_id": request_id,
                    "sequence": 1,
                    "data": {**model.data, "request_id": request_id},
                }
            )
        )
    return out


async def produce(topic: str, envelopes: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=5)
    await producer.start()
    try:
        sends = [
            await producer.send(topic, e.model_dump_json().encode(), key=e.aggregate_id.encode())
            for e in envelopes
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def end_offsets(topic: str) -> dict[TopicPartition, int]:
    # Subscribing makes start() fetch the topic's metadata (its partitions).
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def drain_rate(count: Any, base: int, n: int) -> float:
    """Events per second between the first and the last of `n` new documents appearing."""
    first = last = None
    async with asyncio.timeout(max(120.0, n / 20)):
        while True:
            seen = await count() - base
            now = time.perf_counter()
            if seen > 0 and first is None:
                first = now
            if seen >= n:
                last = now
                break
            await asyncio.sleep(0.05)
    assert first is not None
    assert last is not None
    return n / max(last - first, 1e-3)


async def raw_drain(topic: str, start: dict[TopicPartition, int], raw: Any, n: int) -> float:
    """The baseline: an aiokafka loop, one insert_one per record, commit per fetched batch."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KAFKA,
        group_id=f"{PREFIX}raw",
        enable_auto_commit=False,
        max_poll_records=200,
    )
    await consumer.start()
    consumer.assign(list(start))
    for tp, offset in start.items():
        consumer.seek(tp, offset)

    async def loop() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    await raw.insert_one({"_id": envelope.event_id, **envelope.data})
            if batches:
                await consumer.commit()

    task = asyncio.create_task(loop())
    try:
        return await drain_rate(lambda: raw.count_documents({}), 0, n)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


# --- the run ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running(*apps: App) -> AsyncIterator[None]:
    try:
        for app in apps:
            await app.start()
        yield
    finally:
        for app in reversed(apps):
            await app.stop()


async def throughput_rows(
    requests_app: App, bare_app: App, store: RequestStore, rng: random.Random
) -> list[tuple[str, str, str, str]]:
    """Throughput at 1k stored, then fills to LARGE and measures again, bare endpoint beside."""
    bare_1k = await throughput(bare_app.url, THROUGHPUT_S)
    icr_1k = await throughput(requests_app.url, THROUGHPUT_S)
    await fill_to_large(store, rng)
    bare_large = await throughput(bare_app.url, THROUGHPUT_S)
    icr_large = await throughput(requests_app.url, THROUGHPUT_S)
    rows = []
    for size, bare, icr in (("1k", bare_1k, icr_1k), (LABEL, bare_large, icr_large)):
        rows.append(
            (
                f"submit throughput, {size} stored, {CLIENTS} clients",
                f"{icr['rate']:.0f}/s ({summary(icr['latencies'])})",
                f"{bare['rate']:.0f}/s ({summary(bare['latencies'])})",
                f"{icr['rate'] / bare['rate']:.2f}x (target >= 0.3x)",
            )
        )
        if icr["errors"] or bare["errors"]:
            print(f"  errors at {size}: icr {icr['errors']}, bare {bare['errors']}")
    rows.append(
        (
            f"submit throughput 1k / {LABEL}",
            f"{icr_1k['rate'] / icr_large['rate']:.2f}x",
            f"{bare_1k['rate'] / bare_large['rate']:.2f}x",
            "target <= 1.5x",
        )
    )
    return rows


FILLED = {"done": False}


async def settle_timers(store: RequestStore) -> None:
    """Filler requests are history: submitted months ago, their SLA timers long since handled.
    Left due, they would have the SLA scheduler breach thousands of old requests during the
    measurement, which a store in steady state never does."""
    await store.collection.update_many(
        {"title": {"$regex": "^filler "}},
        {"$set": {"sla_next_check_at": None, "auto_close_at": None}},
    )


async def fill_to_large(store: RequestStore, rng: random.Random) -> None:
    if FILLED["done"]:
        return
    print(f"filling to {LARGE} requests ...", flush=True)
    began = time.perf_counter()
    await fill(store, LARGE - SMALL, SMALL, rng)
    await settle_timers(store)
    FILLED["done"] = True
    print(f"  filled in {time.perf_counter() - began:.0f}s", flush=True)


async def pipeline_rows(requests_app: App, watch: Watch) -> list[tuple[str, str, str, str]]:
    rows = []
    for number in (1, 2, 3):
        r = await paced_round(requests_app.url, watch, ROUND_S)
        rows.append(
            (
                f"round {number}: submit -> event on Kafka ({r['submits']} at 20/s)",
                summary(r["kafka"]),
                "",
                "target p99 <= 50 ms + relay wake-up",
            )
        )
        rows.append(
            (
                f"round {number}: submit -> feedback projection",
                summary(r["feedback"]),
                "",
                "target p99 < 1000 ms",
            )
        )
    return rows


async def drain_rows(
    requests_app: App, feedback_app: App, watch: Watch, client: Any
) -> list[tuple[str, str, str, str]]:
    """The feedback service is stopped while a backlog builds, then started."""
    if not watch.raw:  # real submitted events to copy the shape of
        await paced_round(requests_app.url, watch, 1)
    topic = f"{PREFIX}icr.requests.request"
    await feedback_app.stop()
    events = backlog(watch.raw, DRAIN_EVENTS)
    start = await end_offsets(topic)
    await produce(topic, events)
    ratings = client[FEEDBACK_DB]["ratings"]
    base = await ratings.count_documents({})
    await feedback_app.start()
    print(f"feedback draining {DRAIN_EVENTS} events (pid {feedback_app.pid})", flush=True)
    icr_rate = await drain_rate(lambda: ratings.count_documents({}), base, DRAIN_EVENTS)
    raw_rate = await raw_drain(topic, start, client[RAW_DB]["things"], DRAIN_EVENTS)
    return [
        (
            f"backlog drain, {DRAIN_EVENTS} events",
            f"{icr_rate:.0f} events/s (feedback)",
            f"{raw_rate:.0f} events/s (aiokafka + insert_one)",
            f"{icr_rate / raw_rate:.2f}x (target >= 0.25x)",
        )
    ]


async def main() -> None:
    # Importing the requests app configured the kit's logging; the client's lines are noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"store: {MONGO_URL}\nkafka: {KAFKA}\nrun: {RUN}\nparts: {sorted(PARTS)}")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL, tz_aware=True)
    requests_app = App("requests", "icr.requests.main:app", service_env(REQUESTS_DB))
    feedback_app = App("feedback", "icr.feedback.main:app", service_env(FEEDBACK_DB))
    bare_app = App(
        "bare", "bare_app:app", {"MONGO_URL": MONGO_URL, "BARE_DB": BARE_DB}, str(REPO / "bench")
    )
    cfg = RequestsSettings(mongo_url=MONGO_URL, mongo_db=REQUESTS_DB, kafka_topic_prefix=PREFIX)
    mongo = Mongo(cfg)
    store = RequestStore(mongo, Outbox(cfg), cfg.policy)
    rng = random.Random(11)
    rows: list[tuple[str, str, str, str]] = []
    watch = Watch()
    consumer = AIOKafkaConsumer(
        f"{PREFIX}icr.requests.request",
        bootstrap_servers=KAFKA,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
    )
    tasks: list[asyncio.Task[None]] = []
    try:
        async with running(requests_app, feedback_app, bare_app):
            async with httpx.AsyncClient(base_url=requests_app.url) as http:
                await seed(http)
            await fill(store, SMALL, 0, rng)
            await settle_timers(store)
            await consumer.start()
            await consumer.seek_to_end()
            tasks += [
                asyncio.create_task(watch.kafka(consumer)),
                asyncio.create_task(watch.feedback(client[FEEDBACK_DB]["ratings"])),
            ]
            if "throughput" in PARTS:
                rows += await throughput_rows(requests_app, bare_app, store, rng)
            if "pipeline" in PARTS:
                await fill_to_large(store, rng)
                rows += await pipeline_rows(requests_app, watch)
            if "drain" in PARTS:
                rows += await drain_rows(requests_app, feedback_app, watch, client)
    finally:
        for task in tasks:
            task.cancel()
        await consumer.stop()
        for db in (REQUESTS_DB, FEEDBACK_DB, BARE_DB, RAW_DB):
            with contextlib.suppress(Exception):
                await client.drop_database(db)
        await client.close()
        await mongo.close()
    print()
    print("| figure | ICR | raw baseline (same run) | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
