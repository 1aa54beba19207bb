"""The store-write retry of the relay and the scheduler (no infrastructure needed)."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect

from icr.kit.lease import LeaseLost, retrying


async def attempts_until(error: BaseException, calls: list[int], *, fail_times: int = 100) -> None:
    async for attempt in retrying("test write", within=2.0):
        with attempt:
            calls.append(1)
            if len(calls) <= fail_times:
                raise error


async def test_a_store_error_is_retried() -> None:
    calls: list[int] = []
    await attempts_until(AutoReconnect("blip"), calls, fail_times=2)
    assert len(calls) == 3


async def test_a_cancellation_is_never_retried() -> None:
    # Retrying it would swallow the task's cancellation: a service shutting down hung for good.
    calls: list[int] = []
    with pytest.raises(asyncio.CancelledError):
        await attempts_until(asyncio.CancelledError(), calls)
    assert len(calls) == 1


async def test_a_lost_lease_is_never_retried() -> None:
    calls: list[int] = []
    with pytest.raises(LeaseLost):
        await attempts_until(LeaseLost("taken over"), calls)
    assert len(calls) == 1
