"""The read cache's feed on the real Kafka: partitions it is handed while it runs (a topic
grown) start at their latest offset, so nothing kept from before them is trusted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from icr.contracts import Envelope
from icr.contracts.incentives import PointsAwarded
from icr.contracts.topics import CATALOG, DIRECTORY, LEDGER, REDEMPTIONS
from icr.gateway.cache import ACCOUNTS, CacheFeed, ReadCache
from icr.kit.kafka import encode, ensure_topics
from icr.kit.testing import service_settings_for_test

pytestmark = pytest.mark.infra

BO = (ACCOUNTS, "bo")


async def until(check: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def awarded(account: str) -> bytes:
    event = PointsAwarded(
        entry_id=f"e:r:{account}",
        account=account,
        department_id="it",
        amount=10,
        reason="resolved in time",
        source_event_id="e",
        rule_id="r",
        policy_version=1,
        at="2026-12-01T00:00:00Z",  # type: ignore[arg-type]
    )
    return encode(Envelope.wrap(event, source="incentives"))


async def test_partitions_added_later_leave_nothing_from_before_them_served() -> None:
    settings = service_settings_for_test()
    cache = ReadCache(seconds=30, entries=100, stale_seconds=3)
    await ensure_topics(settings, [DIRECTORY, CATALOG, LEDGER, REDEMPTIONS])
    following = CacheFeed(settings, cache)
    following.start()
    ledger = settings.topic_name(LEDGER.name)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await producer.start()
    try:
        await until(cache.serving, timeout=20)
        cache.put(BO, {"available": 0}, cache.ticket())
        assert cache.get(BO) == {"available": 0}
        await admin.create_partitions({ledger: NewPartitions(total_count=LEDGER.partitions + 1)})
        # Written to the new partition before the feed has heard of it: from the latest
        # offset, the feed never reads it.
        await producer.send_and_wait(ledger, awarded("bo"), partition=LEDGER.partitions)
        await until(lambda: cache.get(BO) is None, timeout=15)
    finally:
        await producer.stop()
        await admin.close()
        await following.close()
