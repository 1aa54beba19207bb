"""The runtime every ICR service shares: clients, relay, consumers, health, in one lifespan.

A service describes itself with a `ServiceSpec`; `create_app` builds the FastAPI app. Start-up
never fails because Kafka or MongoDB is down: the service answers /health/live at once, reports
not ready, and a supervisor keeps trying until both are back, then publishes what waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request
from pymongo import IndexModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from icr.contracts.topics import Topic
from icr.kit.auth import TokenVerifier, install_auth
from icr.kit.consumer import CONSUMER_INDEXES, ConsumerRunner, Subscription, dead_letter_topic
from icr.kit.health import NotReady, Readiness, health_router
from icr.kit.http import Deadlines, install_middleware
from icr.kit.inbox import INBOX_COLLECTION, INBOX_INDEXES, Inbox, purge_inbox
from icr.kit.kafka import build_producer, ensure_topics
from icr.kit.lease import CLOCK_COLLECTION, ServerClock
from icr.kit.logging import configure_logging
from icr.kit.mongo import Mongo
from icr.kit.outbox import OUTBOX_INDEXES, Outbox, Relay, UnregisteredOutbox, unrelayed_pending
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

Worker = Callable[["Runtime"], Awaitable[None]]
T = TypeVar("T")


@dataclass
class ServiceSpec:
    settings: ServiceSettings
    produces: Sequence[Topic] = ()
    indexes: Mapping[str, Sequence[IndexModel]] = field(default_factory=dict)
    outbox_collections: Sequence[str] = ()
    subscriptions: Sequence[Callable[[Runtime], Subscription]] = ()
    """Factories, since handlers need the runtime's stores."""
    routers: Sequence[APIRouter] = ()
    exception_handlers: Mapping[type[Exception], Callable[..., Any]] = field(default_factory=dict)
    workers: Sequence[Worker] = ()
    """Long-running tasks started once the store and Kafka are ready (schedulers, ...)."""
    bulk_paths: Sequence[str] = ()
    """Route paths (and their sub-paths) that get `bulk_request_timeout_seconds` (imports)."""


class Runtime:
    """The clients and tasks of one running service; lives on `app.state.runtime`."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.settings = spec.settings
        self.mongo = Mongo(spec.settings)
        self.outbox = Outbox(spec.settings, spec.outbox_collections)
        # One estimate of the store's clock per process: the relay's and the timers' leases
        # all read it (each clock of its own would sync with the store on its own).
        self.store_clock = ServerClock(self.mongo.collection(CLOCK_COLLECTION))
        self.producer: AIOKafkaProducer | None = None
        self.relay: Relay | None = None
        self.consumers: list[ConsumerRunner] = []
        self.started = asyncio.Event()
        self.fatal: Exception | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.readiness = Readiness()
        self.readiness.add("mongo", self.mongo.ping)
        self.readiness.add("kafka", self._kafka_check)
        self.readiness.add("startup", self._startup_check)

    async def _kafka_check(self) -> None:
        if self.producer is None:
            raise NotReady("producer not started")
        await self.producer.client.fetch_all_metadata()

    async def _startup_check(self) -> None:
        if self.fatal is not None:
            # Our own refusal (stray outbox collections), not a driver's text.
            raise NotReady(f"cannot start: {self.fatal}")
        if not self.started.is_set():
            raise NotReady("still starting (waiting for the store or Kafka)")
        for runner in self.consumers:
            if not runner.running:
                raise NotReady(f"consumer {runner.group} not running")

    async def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._supervise(), name="startup"))

    async def _supervise(self) -> None:
        spec, settings = self.spec, self.settings
        indexes = {**spec.indexes, INBOX_COLLECTION: INBOX_INDEXES, **CONSUMER_INDEXES}
        for name in spec.outbox_collections:
            indexes[name] = [*indexes.get(name, []), *OUTBOX_INDEXES]
        await _retry("store", lambda: self.mongo.ensure_indexes(indexes))
        stray = await _retry("store", self._unrelayed_outboxes)
        if stray:
            # Fail loudly rather than leave events behind that no relay of ours will publish.
            self.fatal = UnregisteredOutbox(
                f"collections {stray} hold unpublished outbox events but are not in the "
                f"service's outbox_collections {list(spec.outbox_collections)}"
            )
            log.critical("outbox spec does not cover the store", extra={"collections": stray})
            return
        subscriptions = [build(self) for build in spec.subscriptions]
        dead_letters = [dead_letter_topic(s.group) for s in subscriptions]
        # The topics it consumes too: their partitions are in the contracts, so creating one
        # before its producer does changes nothing, and a consumer never waits on a topic that
        # no process has created yet (two services consuming each other would wait forever).
        consumed = [t for s in subscriptions for t in s.topics if t not in spec.produces]
        wanted = [*spec.produces, *dict.fromkeys(consumed)]
        await _retry("topics", lambda: ensure_topics(settings, wanted, dead_letters))
        self.producer = await _retry("producer", self._start_producer)
        self.relay = Relay(
            settings,
            [self.mongo.collection(n) for n in spec.outbox_collections],
            self.producer,
            self.outbox,
            clock=self.store_clock,
        )
        self._spawn("relay", self.relay.run())
        for sub in subscriptions:
            inbox = Inbox(self.mongo.collection(INBOX_COLLECTION), settings.topic_name(sub.group))
            runner = ConsumerRunner(settings, sub, inbox, self.producer)
            self.consumers.append(runner)
            self._spawn(f"consumer:{sub.group}", runner.run())
        if subscriptions:
            self._spawn(
                "inbox-purge",
                purge_inbox(
                    self.mongo.collection(INBOX_COLLECTION),
                    older_than=timedelta(days=settings.inbox_retention_days),
                ),
            )
        for worker in spec.workers:
            self._spawn(getattr(worker, "__name__", "worker"), worker(self))
        self.started.set()
        log.info("service started")

    async def _unrelayed_outboxes(self) -> list[str]:
        names = await self.mongo.db.list_collection_names()
        collections = {name: self.mongo.collection(name) for name in names}
        return await unrelayed_pending(collections, self.spec.outbox_collections)

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = build_producer(self.settings)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    def _spawn(self, name: str, coro: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                # Tasks loop and retry on their own; reaching here is a bug worth a loud log.
                log.exception("background task crashed", extra={"task": name})

        self.tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        # Consumers leave their groups after the record in flight, so it is not redone elsewhere.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(r.stop() for r in self.consumers)), 5)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.producer is not None:
            await self.producer.stop()
        await self.mongo.close()


async def _retry(
    what: str, action: Callable[[], Awaitable[T]], *, initial: float = 0.5, maximum: float = 5.0
) -> T:
    """Calls `action` until it succeeds: exponential back-off with jitter, so replicas that lost
    the store together do not come back in lockstep. Cancellation is not retried."""

    def warn(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            f"{what} not available; retrying",
            extra={"error": repr(error)[:300], "attempt": state.attempt_number, "retry_in": delay},
        )

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial),
        before_sleep=warn,
        reraise=True,
    )

    async def attempt() -> T:
        # A coroutine function, not the lambda itself: tenacity returns (never awaits) what a
        # plain callable gives back.
        return await action()

    return await retrying(attempt)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def create_app(spec: ServiceSpec, *, title: str) -> FastAPI:
    configure_logging(spec.settings.service_name, spec.settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Before anything starts: settings that cannot verify tokens safely stop the process.
        verifier = TokenVerifier(spec.settings)
        spec.settings.check_startup()
        app.state.verifier = verifier
        runtime = Runtime(spec)
        app.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            await verifier.close()

    app = FastAPI(title=title, lifespan=lifespan)
    install_middleware(
        app,
        max_body_bytes=spec.settings.max_body_bytes,
        deadlines=Deadlines.of(spec.settings, spec.bulk_paths),
    )
    install_auth(app)
    app.include_router(health_router(lambda request: runtime_of(request).readiness))
    for router in spec.routers:
        app.include_router(router)
    for exc_type, handler in spec.exception_handlers.items():
        app.add_exception_handler(exc_type, handler)
    return app
