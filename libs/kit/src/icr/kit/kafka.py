"""Kafka clients with durable settings, topic creation and message encoding."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from icr.contracts import Envelope
from icr.contracts.topics import Topic
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


def build_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    # aiokafka's defaults are not durable (acks=1, no idempotence): a broker failover could
    # lose an acknowledged event or a retry could write it twice.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"icr-{settings.service_name}",
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=10_000,
    )


def build_consumer(
    settings: ServiceSettings,
    group_id: str,
    topics: Sequence[str],
    *,
    listener: ConsumerRebalanceListener | None = None,
) -> AIOKafkaConsumer:
    # Offsets are committed by us after processing, and a new group starts from the beginning
    # so no event published before the first start is skipped. The poll interval is explicit
    # because the consumer's record budget is derived from it (see ConsumerRunner).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        client_id=f"icr-{settings.service_name}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=200,
        max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
        rebalance_timeout_ms=settings.consumer_max_poll_interval_ms,
    )
    if topics:
        consumer.subscribe(list(topics), listener=listener)
    return consumer


async def ensure_topics(
    settings: ServiceSettings, topics: Iterable[Topic], extra: Iterable[str] = ()
) -> None:
    """Create the topics this service writes to, with explicit partitions; existing ones stay
    as they are (their configs are not changed here).

    `extra` are dead-letter topics: one partition, kept indefinitely (an operator must be able
    to read what was dead-lettered however late). Every topic gets `min.insync.replicas` from
    settings, so with replication 3 and 2 in-sync replicas an `acks=all` write is on two brokers.
    """
    insync = str(settings.kafka_min_insync_replicas)
    wanted = [
        NewTopic(
            name=settings.topic_name(t.name),
            num_partitions=t.partitions,
            replication_factor=settings.kafka_replication_factor,
            topic_configs={
                "retention.ms": str(settings.kafka_retention_ms),
                "min.insync.replicas": insync,
            },
        )
        for t in topics
    ] + [
        NewTopic(
            name=settings.topic_name(name),
            num_partitions=1,
            replication_factor=settings.kafka_replication_factor,
            topic_configs={"retention.ms": "-1", "min.insync.replicas": insync},
        )
        for name in extra
    ]
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=10_000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            # Errors come back inside the response, not raised. "Already exists" means another
            # replica won the race, which is fine; anything else (say, a replication factor the
            # cluster cannot meet) must stop the start with the broker's own words.
            for row in getattr(response, "topic_errors", ()):
                name, code = row[0], row[1]
                if code and code != TopicAlreadyExistsError.errno:
                    raise RuntimeError(
                        f"cannot create topic {name}: {row[2] if len(row) > 2 else code}"
                    )
            log.info("topics created", extra={"topics": [t.name for t in missing]})
        await _wait_for_metadata(admin, [t.name for t in wanted])
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    # Creation is asynchronous on the broker; a producer sending at once would get
    # UnknownTopicOrPartition, so wait until every topic is listed.
    for _ in range(50):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topics not visible after creation: {names}")


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


def decode(raw: bytes) -> Envelope:
    return Envelope.model_validate_json(raw)


def headers_for(envelope: Envelope, traceparent: str | None) -> Headers:
    """Headers let routers and tracers act without parsing the body."""
    headers: Headers = [
        ("event_id", envelope.event_id.encode()),
        ("event_type", envelope.type.encode()),
        ("event_version", str(envelope.version).encode()),
        ("source", envelope.source.encode()),
    ]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers


def header(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode(errors="replace")
    return None
