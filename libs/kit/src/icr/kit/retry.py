"""Read-decide-write attempts retried when another writer won the optimistic-concurrency race."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from icr.kit.outbox import ConcurrentUpdate

log = logging.getLogger(__name__)
T = TypeVar("T")


async def on_concurrent_update(attempt: Callable[[], Awaitable[T]], *, tries: int) -> T:
    """Runs `attempt` until it does not raise `ConcurrentUpdate`, at most `tries` times.

    Each attempt must reload and decide afresh, so a lost race never overwrites the winner;
    the last `ConcurrentUpdate` propagates (the API maps it to 409)."""
    for n in range(1, tries + 1):
        try:
            return await attempt()
        except ConcurrentUpdate:
            if n == tries:
                raise
            log.info("concurrent update; retrying", extra={"attempt": n})
            await asyncio.sleep(0.005 * n)
    raise AssertionError("unreachable")
