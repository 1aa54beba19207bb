"""Helpers for tests that run against the real broker and store (no fakes here)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from icr.contracts import Envelope
from icr.kit.devidentity import DEV_AUDIENCE, DEV_ISSUER, DevIssuer
from icr.kit.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


_issuer: DevIssuer | None = None


def issuer_for_tests() -> DevIssuer:
    """The signing key of this test run, shared by every service and app the run starts (a real
    key pair on disk: apps started as processes read its JWKS file)."""
    global _issuer
    if _issuer is None:
        import tempfile

        _issuer = DevIssuer(tempfile.mkdtemp(prefix="icr-test-identity-"))
    return _issuer


def token_for(person_id: str, **kwargs: Any) -> str:
    """A valid bearer token for `person_id` from the test issuer (see DevIssuer.token)."""
    return issuer_for_tests().token(person_id, **kwargs)


def bearer(person_id: str, **kwargs: Any) -> dict[str, str]:
    """Headers that authenticate as `person_id`."""
    return {"Authorization": f"Bearer {token_for(person_id, **kwargs)}"}


def auth_settings_for_test() -> dict[str, Any]:
    """The settings that make a process trust the test issuer, as field values."""
    return {
        "environment": "development",
        "auth_issuer": DEV_ISSUER,
        "auth_audience": DEV_AUDIENCE,
        "auth_jwks_file": str(issuer_for_tests().jwks_path),
    }


def service_settings_for_test(cls: type[S] = ServiceSettings, **overrides: Any) -> S:  # type: ignore[assignment]
    """Settings on the test infrastructure with a database and topic prefix of their own."""
    run = secrets.token_hex(4)
    values: dict[str, Any] = {
        "mongo_url": os.environ.get(
            "MONGO_URL", "mongodb://127.0.0.1:27018/?directConnection=true"
        ),
        "kafka_bootstrap_servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
        "kafka_topic_prefix": f"t{run}.",
        "outbox_poll_seconds": 0.2,
        "consumer_retry_backoff_seconds": 0.01,
        **auth_settings_for_test(),
    }
    values.setdefault("mongo_db", f"test_{run}")
    values.update(overrides)
    return cls(**values)


async def read_topic(
    bootstrap: str, topic: str, *, count: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Reads `count` records from the start of `topic` (no group), or fails after `timeout`."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=200)
                for part in batch.values():
                    records.extend(part)
    except TimeoutError:
        raise AssertionError(f"read {len(records)} of {count} records from {topic}") from None
    finally:
        await consumer.stop()
    return records


async def topic_records(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic`, from the start to its current end (for rebuild-by-replay tests)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(10):
            while not consumer.assignment():
                await asyncio.sleep(0.05)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        found: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                found += batch
        return found
    finally:
        await consumer.stop()


async def read_keyed(
    bootstrap: str,
    topic: str,
    keys: str | set[str],
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 20.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of some aggregates (by key), from the start of `topic`, read until
    `until(records)` holds; fails after `timeout` naming what it found."""
    wanted = {keys.encode()} if isinstance(keys, str) else {k.encode() for k in keys}
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            while not until(found):
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    found += [r for r in batch if r.key in wanted]
    except TimeoutError:
        seen = [dict(r.headers or ()).get("event_type") for r in found]
        raise AssertionError(f"records of {keys} on {topic}: {seen}") from None
    finally:
        await consumer.stop()
    return found


class TcpProxy:
    """A loopback TCP forwarder that can be cut and restored, to test outages for real."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    def pause(self) -> None:
        """Stop forwarding without closing anything: a stalled peer, not a refused one. Both
        sides keep their connections and new ones are accepted, but no byte gets through."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def open(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._conns):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._conns.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._conns.difference_update({writer, up_writer})


@contextlib.asynccontextmanager
async def proxied(host: str, port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(host, port)
    await proxy.open()
    try:
        yield proxy
    finally:
        await proxy.close()


@contextlib.asynccontextmanager
async def running_app(app: Any, base_url: str = "http://test") -> AsyncIterator[Any]:
    """Runs an ASGI app with its lifespan in this process; yields an httpx client to it."""
    import httpx
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


async def wait_ready(client: Any, timeout: float = 30.0) -> None:
    """Waits until /health/ready answers 200 (the store and Kafka reached, consumers running)."""
    async with asyncio.timeout(timeout):
        while (await client.get("/health/ready")).status_code != 200:
            await asyncio.sleep(0.1)


async def publish(settings: ServiceSettings, *envelopes: Envelope) -> None:
    """Publishes envelopes as their producing service would (topic by type, keyed by aggregate)."""
    from icr.contracts import registry
    from icr.kit.kafka import build_producer, encode

    producer = build_producer(settings)
    await producer.start()
    try:
        for envelope in envelopes:
            topic = registry.latest(envelope.type).topic
            await producer.send_and_wait(
                settings.topic_name(topic.name),
                encode(envelope),
                key=envelope.aggregate_id.encode(),
            )
    finally:
        await producer.stop()


def free_port() -> int:
    """A TCP port nothing listens on right now (for an app a test serves itself)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
