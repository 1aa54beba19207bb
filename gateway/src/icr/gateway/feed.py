"""The gateway's Kafka reading: a consumer with no group, from the latest offset, so every
replica sees every event (a group would split them between replicas) and a restart does not
replay history. The live feed (icr.gateway.hub) and the read cache (icr.gateway.cache) each
run one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pydantic import ValidationError

from icr.contracts import Envelope
from icr.contracts.topics import Topic
from icr.kit.kafka import decode
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)


async def started(
    settings: ServiceSettings, topics: Iterable[Topic], name: str, **options: int
) -> AIOKafkaConsumer:
    """A started consumer of `topics` holding every partition at its current end: nothing
    published after this returns is missed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,  # every partition, in every replica
        client_id=f"icr-{settings.service_name}-{name}",
        enable_auto_commit=False,
        auto_offset_reset="latest",
        isolation_level="read_committed",
        metadata_max_age_ms=5_000,  # see a topic created after the start soon
        **options,
    )
    consumer.subscribe([settings.topic_name(t.name) for t in topics])
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
            for partition in consumer.assignment():
                await consumer.position(partition)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


def envelopes(records: Iterable[ConsumerRecord[bytes, bytes]]) -> Iterator[Envelope]:
    """The records' events; a tombstone or an undecodable record is skipped (logged)."""
    for record in records:
        if record.value is None:
            continue
        try:
            yield decode(record.value)
        except ValidationError:
            log.warning("undecodable event skipped", extra={"offset": record.offset})
