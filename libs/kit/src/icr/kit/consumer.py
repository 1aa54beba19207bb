"""Consumer groups that commit only after processing, with retries and a dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure as PyMongoConnectionFailure

from icr.contracts import Envelope, Event, registry
from icr.contracts.registry import Registry, UnknownEvent
from icr.contracts.topics import Topic
from icr.kit import context, metrics
from icr.kit.context import new_causation, parse_traceparent
from icr.kit.inbox import Inbox
from icr.kit.kafka import build_consumer, decode, header
from icr.kit.logging import log_context
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope], Awaitable[None]]

# Failures of the infrastructure rather than of the event; see ConsumerRunner._attempt.
TRANSIENT = (PyMongoConnectionFailure, KafkaConnectionError, KafkaTimeoutError)


@dataclass
class Subscription:
    """Which handler reacts to which event class, for one consumer group."""

    group: str
    handlers: dict[type[Event], Handler] = field(default_factory=dict)

    def on(self, event: type[Event]) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.handlers[event] = fn
            return fn

        return deco

    @property
    def topics(self) -> list[Topic]:
        return sorted({cls.topic for cls in self.handlers}, key=lambda t: t.name)

    @property
    def by_type(self) -> Mapping[str, Handler]:
        return {cls.event_type: fn for cls, fn in self.handlers.items()}


def dead_letter_topic(group: str) -> str:
    return f"{group}.dlq"


class ConsumerRunner:
    """Consumes a subscription's topics, processing each partition's records in order.

    An event is handled at most `consumer_max_attempts` times; after that it goes to the
    group's dead-letter topic with the error, and the partition moves on.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        subscription: Subscription,
        inbox: Inbox,
        producer: AIOKafkaProducer,
        *,
        events: Registry = registry,
    ) -> None:
        self.settings = settings
        self.events = events
        self.subscription = subscription
        self.group = settings.topic_name(subscription.group)
        self.inbox = inbox
        self.producer = producer
        self.handlers = subscription.by_type
        self.running = False

    async def run(self) -> None:
        topics = [self.settings.topic_name(t.name) for t in self.subscription.topics]
        while True:
            consumer = build_consumer(self.settings, self.group, topics)
            try:
                await consumer.start()
                self.running = True
                log.info("consumer started", extra={"group": self.group, "topics": topics})
                while True:
                    batches = await consumer.getmany(timeout_ms=500)
                    for tp, records in batches.items():
                        for record in records:
                            await self.process(record)
                        # Commit after the whole partition batch was processed: a crash before
                        # this line redelivers, and the inbox drops what was done.
                        await consumer.commit({tp: records[-1].offset + 1})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "consumer failed; restarting", extra={"group": self.group}, exc_info=True
                )
                await asyncio.sleep(1)
            finally:
                self.running = False
                await consumer.stop()

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        topic = record.topic
        try:
            envelope = decode(record.value)
        except ValidationError as exc:
            await self.dead_letter(record, f"undecodable envelope: {exc}")
            return
        handler = self.handlers.get(envelope.type)
        if handler is None:
            metrics.EVENTS_CONSUMED.labels(self.group, topic, "ignored").inc()
            return
        cause = parse_traceparent(header(record.headers, "traceparent")) or new_causation()
        cause = replace(  # keeps the producer's span as this one's parent
            cause,
            correlation_id=envelope.correlation_id or envelope.event_id,
            causation_id=envelope.event_id,
        )
        with (
            context.causation(cause),
            log_context(event_id=envelope.event_id, event_type=envelope.type),
        ):
            if await self.inbox.seen(envelope.event_id):
                metrics.EVENTS_CONSUMED.labels(self.group, topic, "duplicate").inc()
                return
            try:
                event = self.events.parse(envelope)
            except (UnknownEvent, ValidationError) as exc:
                await self.dead_letter(record, f"invalid event: {exc}")
                return
            error = await self._attempt(handler, event, envelope)
            if error is not None:
                await self.dead_letter(record, error)
                return
            await self.inbox.record(envelope.event_id)
            metrics.EVENTS_CONSUMED.labels(self.group, topic, "applied").inc()

    async def _attempt(self, handler: Handler, event: Event, envelope: Envelope) -> str | None:
        """None once the handler succeeded, else the last error after the allowed attempts.

        An outage of the store or the broker is not the event's fault: it is retried until the
        infrastructure returns (the partition waits) and never sends a good event to the DLQ.
        """
        delay = self.settings.consumer_retry_backoff_seconds
        attempt = 0
        while True:
            try:
                await handler(event, envelope)
                return None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                metrics.HANDLER_FAILURES.labels(self.group, envelope.type).inc()
                transient = isinstance(exc, TRANSIENT)
                if not transient:
                    attempt += 1
                log.warning(
                    "handler failed",
                    extra={"attempt": attempt, "transient": transient, "error": error[:500]},
                )
                if attempt >= self.settings.consumer_max_attempts:
                    return error
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        """Park the record with its error; a failure to do so stops the partition, never drops."""
        headers: Sequence[tuple[str, bytes]] = [
            *(record.headers or ()),
            ("dlq_error", error[:2000].encode()),
            ("dlq_group", self.group.encode()),
            ("dlq_topic", record.topic.encode()),
            ("dlq_partition", str(record.partition).encode()),
            ("dlq_offset", str(record.offset).encode()),
            ("dlq_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self.producer.send_and_wait(
            dead_letter_topic(self.group), value=record.value, key=record.key, headers=list(headers)
        )
        metrics.EVENTS_CONSUMED.labels(self.group, record.topic, "dead_lettered").inc()
        log.error(
            "event dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "error": error},
        )


__all__ = ["ConsumerRunner", "Subscription", "TopicPartition", "dead_letter_topic"]
