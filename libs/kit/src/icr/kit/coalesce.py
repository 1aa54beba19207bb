"""Store calls of concurrent handlers merged into one round trip (the DataLoader pattern).

A consumer that handles a poll's records concurrently (`consumer_concurrency`, one lane per
aggregate) has many handlers waiting on the same kind of store call at the same moment: each
reads its request's facts, appends its entries, counts them into balances. A `Coalescer` turns
the calls made while one of its flushes is in flight (or in the same loop iteration) into one
call of `flush` with all their arguments, and hands each caller its own result or error. Each
caller keeps the semantics of its own call (a duplicate refused, a lost version race raised to
that caller alone), so the handlers' logic, and what makes them exactly-once, does not change:
only the transport is shared.

At most one flush per coalescer is in flight: calls arriving meanwhile wait for it and go
together in the next one, so the busier the consumer, the bigger (and fewer) its round trips,
while a lone call goes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")

Flush = Callable[[Sequence[A]], Awaitable[Sequence[R | BaseException]]]


class Coalescer(Generic[A, R]):
    """`await coalescer(arg)` -> the result `flush` gave for `arg` (or raises its error).

    `flush(args)` returns one result per argument, in order: a value, or an exception raised
    to that caller alone; an exception `flush` raises goes to every caller of that flush.
    """

    def __init__(self, flush: Flush[A, R], *, max_batch: int = 500) -> None:
        self._flush = flush
        self._max = max_batch
        self._queue: list[tuple[A, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, arg: A) -> R:
        loop = asyncio.get_running_loop()
        if self._running is not None and self._running.get_loop() is not loop:
            # A store kept past its event loop (tests run one loop each): start afresh.
            self._queue, self._running = [], None
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((arg, future))
        if self._running is None:
            # After the callbacks already scheduled in this iteration: the other handlers
            # woken with this one make their calls first and join this flush.
            self._running = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)
            while self._queue:
                batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                live = [(arg, f) for arg, f in batch if not f.done()]  # a caller cancelled
                if live:
                    await self._run(live)
        finally:
            self._running = None
            if self._queue:  # cancelled with calls waiting: they must not wait forever
                self._running = asyncio.get_running_loop().create_task(self._drain())

    async def _run(self, batch: list[tuple[A, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([arg for arg, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        except Exception as exc:  # every caller of this flush gets its error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        if len(results) != len(batch):
            error = RuntimeError(f"flush returned {len(results)} results for {len(batch)} calls")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


__all__ = ["Coalescer"]
