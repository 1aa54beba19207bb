"""`icr status`: the platform at a glance, read-only.

- components: Kafka (cluster metadata), the store (a ping), each app's `/health/ready`;
- lag per consumer group: committed offsets against the partitions' end offsets (Kafka's admin
  API; only groups of this environment's KAFKA_TOPIC_PREFIX);
- outbox backlog per service: pending documents and the oldest one's age, counted with the
  relay's own query on the outbox index (`icr.kit.outbox.backlog_of`);
- dead letters: records on each group's `<group>.dlq` topic, and held aggregates per service
  (`icr.kit.holds`)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from icr.kit.consumer import dead_letter_topic
from icr.kit.holds import HOLDS_COLLECTION
from icr.kit.mongo import Mongo
from icr.kit.outbox import backlog_of, outbox_collections
from icr.kit.settings import ServiceSettings

SERVICES = ("requests", "feedback", "incentives")
APPS = ("gateway", *SERVICES)
TIMEOUT = 5.0


@dataclass
class Status:
    components: list[tuple[str, bool, str]] = field(default_factory=list)
    lag: list[tuple[str, str, int, int]] = field(default_factory=list)  # group, topic, parts, lag
    outbox: list[tuple[str, str, int, float]] = field(default_factory=list)
    dead_letters: list[tuple[str, int]] = field(default_factory=list)  # topic, records
    holds: list[tuple[str, int]] = field(default_factory=list)  # service, held aggregates

    @property
    def healthy(self) -> bool:
        return all(ok for _, ok, _ in self.components)


def settings_of(service: str) -> ServiceSettings:
    return ServiceSettings(service_name=service)


async def collect(urls: dict[str, str]) -> Status:
    status = Status()
    settings = settings_of("cli")
    await asyncio.gather(
        _apps(urls, status), _kafka(settings, status), _store(status), return_exceptions=False
    )
    return status


async def _apps(urls: dict[str, str], status: Status) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        for app in APPS:
            url = f"{urls[app]}/health/ready"
            try:
                r = await http.get(url)
                ok = r.status_code == 200
                detail = urls[app] if ok else f"{urls[app]} {r.status_code} {r.text[:200]}"
                status.components.append((app, ok, detail))
            except httpx.HTTPError as exc:
                status.components.append((app, False, f"{urls[app]}: {type(exc).__name__}"))


async def _kafka(settings: ServiceSettings, status: Status) -> None:
    servers = settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=int(TIMEOUT * 1000))
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, request_timeout_ms=int(TIMEOUT * 1000))
    try:
        await asyncio.wait_for(admin.start(), TIMEOUT)
        await asyncio.wait_for(consumer.start(), TIMEOUT)
    except Exception as exc:  # any failure to connect is the answer: Kafka is not there
        status.components.append(("kafka", False, f"{servers}: {type(exc).__name__}"))
        with contextlib.suppress(Exception):
            await admin.close()
        with contextlib.suppress(Exception):
            await consumer.stop()
        return
    try:
        topics = await consumer.topics()
        status.components.append(("kafka", True, f"{servers}, {len(topics)} topics"))
        prefix = settings.kafka_topic_prefix
        groups = sorted(
            g[0] for g in await admin.list_consumer_groups() if str(g[0]).startswith(prefix)
        )
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            per_topic: dict[str, list[int]] = {}
            for tp, meta in committed.items():
                lag = max(0, ends[tp] - meta.offset) if meta.offset >= 0 else ends[tp]
                per_topic.setdefault(tp.topic, []).append(lag)
            for topic, lags in sorted(per_topic.items()):
                status.lag.append((group, topic, len(lags), sum(lags)))
        # Every group's dead-letter topic, including those of groups with nothing committed.
        dlqs = {dead_letter_topic(g) for g in groups} | {
            t for t in topics if t.startswith(prefix) and t.endswith(".dlq")
        }
        layout = await partitions(admin, sorted(dlqs & topics))
        for dlq in sorted(dlqs):
            parts = layout.get(dlq, [])
            if not parts:
                status.dead_letters.append((dlq, 0))
                continue
            begins = await consumer.beginning_offsets(parts)
            ends = await consumer.end_offsets(parts)
            status.dead_letters.append((dlq, sum(ends[p] - begins[p] for p in parts)))
    finally:
        await admin.close()
        await consumer.stop()


async def partitions(
    admin: AIOKafkaAdminClient, topics: list[str]
) -> dict[str, list[TopicPartition]]:
    """Each existing topic's partitions, from the broker (the consumer's own metadata only
    knows topics it was assigned or subscribed to)."""
    if not topics:
        return {}
    return {
        row["topic"]: [TopicPartition(row["topic"], p["partition"]) for p in row["partitions"]]
        for row in await admin.describe_topics(topics)
        if row["error_code"] == 0
    }


async def _store(status: Status) -> None:
    first = True
    for service in SERVICES:
        settings = settings_of(service)
        mongo = Mongo(settings)
        try:
            if first:
                await asyncio.wait_for(mongo.ping(), TIMEOUT)
                status.components.append(("store", True, _redact(settings.mongo_url)))
                first = False
            if settings.database not in await mongo.client.list_database_names():
                status.outbox.append((service, "(no database yet)", 0, 0.0))
                continue
            names = await mongo.client[settings.database].list_collection_names()
            collections = {n: mongo.collection(n) for n in sorted(names)}
            now = datetime.now(UTC)
            for name in await outbox_collections(collections):
                backlog, age = await backlog_of(collections[name], now)
                status.outbox.append((service, name, backlog, age))
            if HOLDS_COLLECTION in names:
                held = await mongo.collection(HOLDS_COLLECTION).count_documents({})
                status.holds.append((service, held))
            else:
                status.holds.append((service, 0))
        except Exception as exc:  # an unreachable store is a status, not a crash
            if first:
                status.components.append(
                    ("store", False, f"{_redact(settings.mongo_url)}: {type(exc).__name__}")
                )
                return
            status.outbox.append((service, f"error: {type(exc).__name__}", 0, 0.0))
        finally:
            await mongo.close()


def _redact(url: str) -> str:
    """The store's URL without a password."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def as_dict(status: Status) -> dict[str, Any]:
    return {
        "healthy": status.healthy,
        "components": [{"name": n, "ok": ok, "detail": d} for n, ok, d in status.components],
        "lag": [{"group": g, "topic": t, "partitions": p, "lag": n} for g, t, p, n in status.lag],
        "outbox": [
            {"service": s, "collection": c, "pending": n, "oldest_seconds": round(a, 1)}
            for s, c, n, a in status.outbox
        ],
        "dead_letters": [{"topic": t, "records": n} for t, n in status.dead_letters],
        "holds": [{"service": s, "held": n} for s, n in status.holds],
    }
