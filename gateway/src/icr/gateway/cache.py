"""The gateway's read cache: directory rows, the catalog and callers' own accounts, kept coherent
by the services' events.

A portal asks for `me` (profile, department, balance) on every page; without a cache each ask
is two or three service calls, and the gateway can never be faster than those. What is cached
is what any authenticated caller may read anyway (people, departments, the catalog), or one
caller's own account, served only to that caller. Entries are dropped when an event says they
changed (`requests.person.upserted`, `requests.department.upserted`, catalog events, ledger and
redemption events), when the gateway itself writes through a service, and after
READ_CACHE_SECONDS at the latest.

Coherence rests on the feed: a Kafka consumer with no group (every partition, in every replica)
from the latest offset. The cache serves nothing until the feed holds its partitions, and
nothing while the feed has not heard from the broker for READ_CACHE_STALE_SECONDS (the events
that would drop entries may be waiting there): it empties itself then, and fills again once the
feed is back. A read started before an entry was dropped never puts its (older) answer back,
and an account a ledger or redemption event named is not kept again for READ_CACHE_STALE_SECONDS
(the service counts an entry into the balance just after its event is out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from icr.contracts import Envelope
from icr.contracts.topics import CATALOG, DIRECTORY, LEDGER, REDEMPTIONS
from icr.gateway import feed
from icr.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

SERVING = Gauge(
    "icr_gateway_read_cache_serving",
    "1 while the read cache serves (its event feed hears from Kafka), else 0.",
)


class _Lookups(Collector):
    """Hits and misses, counted in plain integers and read at scrape time: a prometheus
    Counter takes a lock on every increment, a tenth of a cached `me` query's time."""

    def __init__(self) -> None:
        self.caches: list[ReadCache] = []

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "icr_gateway_read_cache_lookups",
            "Reads the gateway's cache was asked for while serving, by result (hit, miss).",
            labels=["result"],
        )
        family.add_metric(["hit"], sum(c.hits for c in self.caches))
        family.add_metric(["miss"], sum(c.misses for c in self.caches))
        yield family


_LOOKUPS = _Lookups()
REGISTRY.register(_LOOKUPS)

Key = tuple[str, Hashable]
PEOPLE = "person"
ACCOUNTS = "account"
LISTS = "list"
DEPARTMENTS_LIST: Key = (LISTS, "/departments")
CATALOG_LIST: Key = (LISTS, "/catalog/items")


class ReadCache:
    """Entries by key, each with its expiry; a ticket (taken before a read goes to a service)
    decides whether the read's answer may be kept."""

    def __init__(self, *, seconds: float, entries: int, stale_seconds: float) -> None:
        self.seconds = seconds
        self.max_entries = entries
        self.stale_seconds = stale_seconds
        # key -> (expiry, value, its kind's generation when kept)
        self._entries: OrderedDict[Key, tuple[float, Any, int]] = OrderedDict()
        # Dropping a whole kind (after a write through the gateway) moves its generation on
        # instead of visiting each entry: with a full cache that was a fifth of a second of the
        # event loop per write. Entries of an older generation are dead, and go when met or
        # when the least recently used go.
        self._generations: dict[str, int] = {}
        # When each key was last dropped (a stamp); older drops are forgotten past
        # `max_entries`, and `_floor` then refuses every ticket from before them.
        self._dropped: OrderedDict[Key, int] = OrderedDict()
        self._stamp = 0
        self._floor = 0
        # Accounts a ledger event named, each with the (monotonic) time until which reads of it
        # are not kept: the incentives service counts an entry into the balance just after it
        # writes the entry and its event, so a read right after the event may not show it yet.
        self._settling: OrderedDict[Key, float] = OrderedDict()
        self._settling_all_until = 0.0  # past `max_entries` settling accounts: all of them
        self._fresh_until = 0.0  # monotonic; the feed pushes it forward as the broker answers
        self.hits = 0
        self.misses = 0
        SERVING.set_function(lambda: float(self.serving()))
        _LOOKUPS.caches = [self]  # the process's cache (a test's newer gateway replaces it)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def serving(self) -> bool:
        return self.enabled and time.monotonic() < self._fresh_until

    def ticket(self) -> int | None:
        """Taken before a read goes to a service; None when its answer may not be kept."""
        if not self.serving():
            return None
        return self._stamp

    def get(self, key: Key) -> Any:
        """The entry, or None when absent, expired or the cache is not serving."""
        if not self.serving():
            return None
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        expires, value, generation = found
        if expires < time.monotonic() or generation != self._generations.get(key[0], 0):
            del self._entries[key]
            self.misses += 1
            return None
        self.hits += 1
        return value

    def peek(self, key: Key) -> Any:
        """`get` without counting a hit or a miss (the caller's own row, looked at for trust)."""
        if not self.serving():
            return None
        found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        if found[2] != self._generations.get(key[0], 0):
            return None
        return found[1]

    def put(self, key: Key, value: Any, ticket: int | None) -> None:
        if ticket is None or ticket < self._floor or not self.serving():
            return
        if self._dropped.get(key, -1) > ticket:
            return  # dropped while the read was on its way: its answer may be the old one
        if key[0] == ACCOUNTS and self._settling and self._unsettled(key):
            return
        generation = self._generations.get(key[0], 0)
        self._entries[key] = (time.monotonic() + self.seconds, value, generation)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop(self, key: Key) -> None:
        self._stamp += 1
        self._entries.pop(key, None)
        self._dropped[key] = self._stamp
        self._dropped.move_to_end(key)
        while len(self._dropped) > self.max_entries:
            _, stamp = self._dropped.popitem(last=False)
            self._floor = max(self._floor, stamp)

    def settle(self, key: Key) -> None:
        """Drop an account a ledger event named, and keep no read of it for `stale_seconds`:
        the event may have come out before the service counted it into the balance."""
        self.drop(key)
        now = time.monotonic()
        self._settling[key] = now + self.stale_seconds
        self._settling.move_to_end(key)
        while len(self._settling) > self.max_entries:
            _, until = self._settling.popitem(last=False)
            self._settling_all_until = max(self._settling_all_until, until)

    def _unsettled(self, key: Key) -> bool:
        now = time.monotonic()
        if now < self._settling_all_until:
            return True
        until = self._settling.get(key)
        if until is None:
            return False
        if until <= now:
            del self._settling[key]
            return False
        return True

    def drop_kind(self, kind: str) -> None:
        self._generations[kind] = self._generations.get(kind, 0) + 1
        # Reads of this kind on their way now must not be kept either.
        self._stamp += 1
        self._floor = self._stamp

    def clear(self) -> None:
        """Everything out, and every ticket taken so far refused."""
        self._entries.clear()
        self._dropped.clear()
        # `_settling` stays: a read after the clear must still wait for an account's count.
        self._stamp += 1
        self._floor = self._stamp

    def heard_from_broker(self, at: float) -> None:
        """The feed's latest answer from every partition was at `at` (monotonic)."""
        if time.monotonic() >= self._fresh_until:
            # Back from a silence (or the first answer): events of the silence may still be
            # arriving, so nothing kept from before it is trusted.
            self.clear()
        self._fresh_until = at + self.stale_seconds

    def go_dark(self) -> None:
        self._fresh_until = 0.0
        self.clear()

    def on_event(self, envelope: Envelope) -> None:
        data = envelope.data
        kind = envelope.type
        if kind == "requests.person.upserted":
            self.drop((PEOPLE, envelope.aggregate_id))
            self.drop((ACCOUNTS, envelope.aggregate_id))  # a deactivation ends their reads
        elif kind == "requests.department.upserted":
            self.drop(DEPARTMENTS_LIST)
        elif kind.startswith("requests.catalog"):
            self.drop(CATALOG_LIST)
        elif kind.startswith("incentives.points."):
            self.settle((ACCOUNTS, str(data.get("account"))))
        elif kind.startswith(("incentives.reward.", "incentives.redemption.")):
            self.settle((ACCOUNTS, str(data.get("person_id"))))

    def after_write(self, service: str, path: str) -> None:
        """The gateway wrote through a service: what that may have changed goes now, before
        the write's event arrives (the caller reads their own write)."""
        if service == "incentives":
            self.drop_kind(ACCOUNTS)
        elif service == "requests" and path.startswith(("/people", "/directory")):
            self.drop_kind(PEOPLE)
            self.drop_kind(ACCOUNTS)
            self.drop(DEPARTMENTS_LIST)
        elif service == "requests" and path.startswith("/departments"):
            self.drop(DEPARTMENTS_LIST)
        elif service == "requests" and path.startswith("/catalog"):
            self.drop(CATALOG_LIST)


class CacheFeed:
    """The consumer behind the cache, running for the gateway's life; it reconnects on its own
    and the cache stays dark while it cannot."""

    TOPICS = (DIRECTORY, CATALOG, LEDGER, REDEMPTIONS)

    def __init__(self, settings: ServiceSettings, cache: ReadCache) -> None:
        self.settings = settings
        self.cache = cache
        self._task: asyncio.Task[None] | None = None
        self._partitions: frozenset[TopicPartition] = frozenset()  # those the cache rests on

    def start(self) -> None:
        if self.cache.enabled and self._task is None:
            self._task = asyncio.create_task(self._forever(), name="read-cache-feed")

    async def _forever(self) -> None:
        pause = 0.5
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker is away: serve from the services meanwhile
                log.warning("read cache feed lost; reads go to the services", exc_info=exc)
            self.cache.go_dark()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 30.0)

    async def _follow(self) -> None:
        self._partitions = frozenset()
        consumer = await feed.started(self.settings, self.TOPICS, "cache", fetch_max_wait_ms=250)
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=250, max_records=1_000)
                for records in batches.values():
                    for envelope in feed.envelopes(records):
                        self.cache.on_event(envelope)
                self._heard(consumer)
        finally:
            await consumer.stop()

    def _heard(self, consumer: AIOKafkaConsumer) -> None:
        # The oldest of the partitions' latest fetch answers: an event the feed has not fetched
        # could be waiting in any of them.
        assigned = consumer.assignment()
        stamps = [consumer.last_poll_timestamp(tp) for tp in assigned]
        if not stamps or any(s is None or s < 0 for s in stamps):
            return
        if assigned != self._partitions:
            # A partition added while the feed runs (a topic grown) was started at its latest
            # offset: what was written to it before that is never heard, so nothing kept from
            # before it is trusted.
            self.cache.clear()
            self._partitions = frozenset(assigned)
        age = time.time() - min(stamps) / 1000
        self.cache.heard_from_broker(time.monotonic() - max(age, 0.0))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
