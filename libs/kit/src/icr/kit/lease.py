"""Leases on documents that stay correct across replicas whose clocks disagree.

A lease is `{until, token}` in the leased document. Expiry is judged on the store's clock, never
a replica's own: `ServerClock` estimates the store's time from a `$currentDate` write and this
process's monotonic clock, so a replica whose wall clock is a minute off (or is stepped) neither
steals a live lease nor writes one that is already over. The holder renews its lease while it
works (`hold`) and stops, cancelling the work, as soon as it can no longer be sure it holds it:
the store says the token changed (another replica took over after an expiry), or no renewal got
through in time. It judges "in time" on its own monotonic clock from the moment it sent the
claim, with a safety margin, so it stops before the store's clock says the lease is over. Every
write the holder makes under the lease names the token, so a holder that was too late changes
nothing (it is fenced).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pymongo
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from icr.kit.mongo import Document

log = logging.getLogger(__name__)

T = TypeVar("T")
LocalClock = Callable[[], datetime]
CLOCK_COLLECTION = "kit_clock"
_KEEP_QUICK_SYNC_SECONDS = 600.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseLost(Exception):
    """The lease ran out or another replica took it over: stop, and write nothing under it."""


class ServerClock:
    """The store's current time, estimated locally; refreshed every `refresh_seconds`.

    A `$currentDate` write read back in one round trip gives the store's time at (about) the
    middle of that round trip (error at most half of it, plus the server's millisecond
    resolution; a sync much slower than a recent one is not used). The estimate adds the time
    elapsed since on this process's monotonic clock, so a replica's wall clock, however far off
    and however it is stepped (NTP, a resumed VM), plays no part. `local` (the wall clock,
    injectable so tests can skew or step it) only measures how far this replica is off the
    store, kept in `offset` for diagnostics.
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        local: LocalClock = utcnow,
        refresh_seconds: float = 30.0,
    ) -> None:
        self.collection = collection
        self.local = local
        self.refresh_seconds = refresh_seconds
        self.offset: timedelta | None = None
        self._synced: tuple[datetime, float] | None = None  # (store time, loop time) at a sync
        self._took = 0.0  # the round trip of that sync
        self._next_sync = 0.0
        self._syncing = asyncio.Lock()

    async def sync(self) -> None:
        loop = asyncio.get_running_loop()
        sent_local, sent = self.local(), loop.time()
        doc = await self.collection.find_one_and_update(
            {"_id": "clock"},
            {"$currentDate": {"at": True}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        took = loop.time() - sent
        assert doc is not None
        at: datetime = doc["at"]
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        self._next_sync = loop.time() + self.refresh_seconds
        # A slow round trip (a busy store) estimates worse than a recent quick one, whose error
        # grows only by the clocks' drift (milliseconds in ten minutes): keep the quick one.
        if (
            self._synced is not None
            and took > 2 * self._took + 0.005
            and loop.time() - self._synced[1] < _KEEP_QUICK_SYNC_SECONDS
        ):
            return
        self._synced, self._took = (at, sent + took / 2), took
        self.offset = at - (sent_local + timedelta(seconds=took / 2))

    async def now(self) -> datetime:
        if self._synced is None or asyncio.get_running_loop().time() >= self._next_sync:
            try:
                async with self._syncing:  # one round trip for all the claims of a pass
                    loop_now = asyncio.get_running_loop().time()
                    if self._synced is None or loop_now >= self._next_sync:
                        await self.sync()
            except Exception:
                if self._synced is None:
                    raise
                # Clocks drift by milliseconds a minute: the last sync serves until the store
                # answers again (and then nothing under a lease can be written anyway).
                log.warning("store clock not refreshed; using the last sync", exc_info=True)
        assert self._synced is not None
        at, loop_at = self._synced
        return at + timedelta(seconds=asyncio.get_running_loop().time() - loop_at)


def new_token(owner: str) -> str:
    """A token per claim: a replica never mistakes an old claim of its own for the current one."""
    return f"{owner}:{secrets.token_hex(6)}"


@dataclass
class Lease:
    """One claim's lease on one document, as its holder knows it."""

    collection: AsyncCollection[Document]
    key: Any
    token_field: str
    until_field: str
    token: str
    seconds: float
    clock: ServerClock
    sure_until: float
    """Loop time up to which the holder is sure it still holds the lease."""

    @property
    def margin(self) -> float:
        return self.seconds / 5

    def started(self, sent: float) -> Lease:
        """Sure of the lease for its length less the margin, from when the claim was sent."""
        self.sure_until = sent + self.seconds - self.margin
        return self

    def check(self) -> None:
        """Raises `LeaseLost` once the holder can no longer be sure; call before each effect."""
        if asyncio.get_running_loop().time() >= self.sure_until:
            raise LeaseLost(f"{self.collection.name}/{self.key}: lease not renewed in time")

    @property
    def guard(self) -> Document:
        """The filter that makes a write apply only while this lease holds."""
        return {"_id": self.key, self.token_field: self.token}

    async def renew(self) -> None:
        sent = asyncio.get_running_loop().time()
        now = await self.clock.now()
        result = await self.collection.update_one(
            self.guard, {"$set": {self.until_field: now + timedelta(seconds=self.seconds)}}
        )
        if result.matched_count == 0:
            self.sure_until = 0.0
            raise LeaseLost(f"{self.collection.name}/{self.key}: lease taken over")
        self.started(sent)

    async def hold(self, work: Callable[[], Awaitable[T]]) -> T:
        """Runs `work` while renewing the lease; cancels it and raises `LeaseLost` if lost."""
        try:
            async with asyncio.TaskGroup() as group:
                keeper = group.create_task(self._keep())
                result = await work()
                keeper.cancel()
            return result
        except BaseExceptionGroup as failed:
            # The keeper's LeaseLost (the work was cancelled because of it) or the work's own
            # error: one at a time, as the caller would see it without the keeper.
            raise failed.exceptions[0] from None

    async def _keep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # Never sleep past the margin: after renewals that failed at once, the next wake-up
            # must be in time to stop the work before the store's clock ends the lease.
            await asyncio.sleep(max(0.0, min(self.seconds / 3, self.sure_until - loop.time())))
            remaining = max(0.01, self.sure_until - loop.time())
            try:
                # PyMongo's own deadline ends the renewal's store calls: cancelling a PyMongo wait
                # can leave its pool's lock held (see icr.kit.http). The asyncio deadline, a bit
                # later, only backs it up for waits outside the driver.
                with pymongo.timeout(remaining):
                    async with asyncio.timeout(remaining + 0.5):
                        await self.renew()
            except LeaseLost:  # taken over: the work must stop, not retry
                raise
            except Exception as exc:  # includes the timeout: the store did not answer in time
                if loop.time() >= self.sure_until:
                    raise LeaseLost(
                        f"{self.collection.name}/{self.key}: lease not renewed in time"
                    ) from exc
                log.warning("lease renewal failed; retrying", extra={"error": repr(exc)[:200]})


def _log_retry(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(f"{what} failed; retrying", extra={"error": repr(error)[:300]})

    return before_sleep


def retrying(what: str, *, within: float) -> AsyncRetrying:
    """Retries a store write with jittered backoff for at most `within` seconds, then raises;
    never once the lease is lost (that answer does not change)."""
    return AsyncRetrying(
        stop=stop_after_delay(within),
        wait=wait_random_exponential(multiplier=0.05, max=1.0),
        # Only errors: tenacity's attempts catch BaseException, and retrying a CancelledError
        # would swallow the task's cancellation (a service shutting down would hang).
        retry=retry_if_exception(
            lambda exc: isinstance(exc, Exception) and not isinstance(exc, LeaseLost)
        ),
        before_sleep=_log_retry(what),
        reraise=True,
    )


async def forever(what: str, attempt: Callable[[], Awaitable[T]], *, base: float) -> T:
    """Runs a pass until it succeeds: jittered backoff from `base` up to ten times that."""
    retry = AsyncRetrying(
        wait=wait_random_exponential(multiplier=base, max=10 * base),
        retry=retry_if_exception_type(Exception),
        before_sleep=_log_retry(what),
        reraise=True,
    )
    result: T = await retry(attempt)
    return result
