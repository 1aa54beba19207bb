"""The gateway's live feed: one Kafka consumer per gateway process, fanned out to subscribers.

The consumer has no group: it is assigned every partition of the requests topic and starts at
the latest offset, so every replica sees every event (a group would split them between
replicas) and a restart does not replay history to live clients. Each subscriber has a bounded
queue; one that falls behind is dropped (told so and ended) instead of slowing the feed for
everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from icr.contracts import Envelope
from icr.contracts.topics import LEADERBOARD, LEDGER, REQUESTS
from icr.gateway import feed
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)


class SlowSubscriber(Exception):
    """The subscriber's queue filled up: it was dropped so the others keep their pace."""


@dataclass(frozen=True)
class Facts:
    """What never changes about a request, learned from events and reads: enough to skip
    subscribers an event cannot concern before asking the service on their behalf."""

    requester_id: str | None = None
    provider_department_id: str | None = None


class Subscriber:
    def __init__(self, wants: Callable[[Envelope], bool], size: int) -> None:
        self.wants = wants
        self.queue: asyncio.Queue[Envelope | None] = asyncio.Queue(maxsize=size)
        self.dropped = False

    def offer(self, envelope: Envelope) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(envelope)
        except asyncio.QueueFull:
            # Never wait for a slow client: empty its queue and leave it the end marker.
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def next(self) -> Envelope:
        envelope = await self.queue.get()
        if envelope is None:
            raise SlowSubscriber("this subscription fell behind the live feed and was dropped")
        return envelope


class Hub:
    """Started on the first subscription (a gateway serving only queries needs no Kafka)."""

    def __init__(self, settings: ServiceSettings, *, queue_size: int, facts: int = 100_000) -> None:
        self.settings = settings
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.facts: OrderedDict[str, Facts] = OrderedDict()
        self.max_facts = facts
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def subscribe(self, wants: Callable[[Envelope], bool]) -> Subscriber:
        await self._start()
        subscriber = Subscriber(wants, self.queue_size)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def facts_of(self, request_id: str) -> Facts | None:
        return self.facts.get(request_id)

    def learn(self, request_id: str, data: dict[str, Any]) -> None:
        requester, provider = data.get("requester_id"), data.get("provider_department_id")
        if requester is None and provider is None:
            return
        known = self.facts.get(request_id) or Facts()
        self.facts[request_id] = Facts(
            requester_id=known.requester_id or requester,
            provider_department_id=known.provider_department_id or provider,
        )
        self.facts.move_to_end(request_id)
        while len(self.facts) > self.max_facts:
            self.facts.popitem(last=False)

    async def _start(self) -> None:
        async with self._lock:
            if self._task is not None and not self._task.done():
                return
            # Requests for the request feeds; the ledger and the leaderboard for the points
            # feeds (icr.gateway.incentives_live). A subscription counts from the moment it is
            # answered: the consumer holds its partitions at their ends first.
            consumer = await feed.started(self.settings, (REQUESTS, LEDGER, LEADERBOARD), "live")
            self._consumer = consumer
            self._task = asyncio.create_task(self._run(consumer), name="live-hub")

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for envelope in feed.envelopes(records):
                    self.dispatch(envelope)

    def dispatch(self, envelope: Envelope) -> None:
        self.learn(envelope.aggregate_id, envelope.data)
        for subscriber in list(self.subscribers):
            if subscriber.wants(envelope):
                subscriber.offer(envelope)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
