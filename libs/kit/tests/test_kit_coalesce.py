"""The coalescer: concurrent calls become one flush, each caller gets its own result or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from icr.kit.coalesce import Coalescer


async def test_concurrent_calls_go_in_one_flush_and_each_gets_its_own_result() -> None:
    flushes: list[list[int]] = []

    async def flush(args: Sequence[int]) -> list[int | BaseException]:
        flushes.append(list(args))
        await asyncio.sleep(0.01)
        return [ValueError(f"odd {a}") if a % 2 else a * 10 for a in args]

    double: Coalescer[int, int] = Coalescer(flush)
    results = await asyncio.gather(*(double(n) for n in range(6)), return_exceptions=True)
    assert flushes == [[0, 1, 2, 3, 4, 5]]
    assert results[0::2] == [0, 20, 40]
    assert [str(e) for e in results[1::2]] == ["odd 1", "odd 3", "odd 5"]


async def test_calls_made_while_a_flush_is_in_flight_wait_and_go_together() -> None:
    flushes: list[list[int]] = []
    gate = asyncio.Event()

    async def flush(args: Sequence[int]) -> list[int | BaseException]:
        flushes.append(list(args))
        if len(flushes) == 1:
            await gate.wait()
        return list(args)

    echo: Coalescer[int, int] = Coalescer(flush)
    first = asyncio.create_task(echo(1))
    await asyncio.sleep(0.01)  # the first flush is in flight
    later = [asyncio.create_task(echo(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0.01)
    assert flushes == [[1]]
    gate.set()
    assert await first == 1
    assert await asyncio.gather(*later) == [2, 3, 4]
    assert flushes == [[1], [2, 3, 4]]


async def test_a_failed_flush_fails_its_callers_only_and_the_next_flush_runs() -> None:
    calls = 0

    async def flush(args: Sequence[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("store down")
        return list(args)

    echo: Coalescer[int, int] = Coalescer(flush)
    failed = await asyncio.gather(echo(1), echo(2), return_exceptions=True)
    assert all(isinstance(e, ConnectionError) for e in failed)
    assert await echo(3) == 3


async def test_a_cancelled_caller_leaves_the_others_their_results() -> None:
    started = asyncio.Event()

    async def flush(args: Sequence[int]) -> list[int | BaseException]:
        started.set()
        await asyncio.sleep(0.02)
        return list(args)

    echo: Coalescer[int, int] = Coalescer(flush)
    gone = asyncio.create_task(echo(1))
    stays = asyncio.create_task(echo(2))
    await started.wait()
    gone.cancel()
    assert await stays == 2
    with pytest.raises(asyncio.CancelledError):
        await gone
