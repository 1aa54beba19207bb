"""A replica whose store connection stalls mid-redemption (icr.kit.testing.TcpProxy paused),
while the redemption timer of another replica, on a direct connection, finishes it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from icr.incentives.domain.ledger import Entry, Kind
from icr.incentives.domain.rewards import Redemption, Reward, State
from icr.incentives.handlers.ledger import record_entry
from icr.incentives.handlers.rewards import advance_redemption
from icr.incentives.store import AccountStore, LedgerStore, RedemptionStore, RewardStore
from icr.kit.mongo import Mongo
from icr.kit.outbox import Outbox
from icr.kit.testing import TcpProxy

pytestmark = pytest.mark.infra


class StallAfterLookup:
    """The stalled replica's ledger: its connection stops carrying bytes right after the debit
    lookup, before the hold (the fault is the paused connection; this picks the moment)."""

    def __init__(self, ledger: LedgerStore, proxy: TcpProxy) -> None:
        self.ledger, self.proxy = ledger, proxy
        self.stalled = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    async def get(self, entry_id: str) -> Entry | None:
        found = await self.ledger.get(entry_id)
        self.proxy.pause()
        self.stalled.set()
        return found


async def test_a_stalled_replica_resuming_after_the_timer_finished_takes_no_second_hold(  # type: ignore[no-untyped-def]
    service, until, invariant
) -> None:
    deps = service.deps
    seed = Entry("ana", "sales", 100, Kind.AWARD, "seed", "seed-p", "seed", 0, datetime.now(UTC))
    await record_entry(seed, deps=deps)
    await deps.rewards.put(Reward("mug", {"en": "Mug"}, cost=30, stock=5))
    pending = Redemption("p-1", "ana", "sales", "mug", 30, State.PENDING, datetime.now(UTC))
    await deps.redemptions.add(pending, due_at=datetime.now(UTC))  # due: the timer will run it

    host, port = service.settings.mongo_url.split("//")[1].split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    proxied_port = await proxy.open()
    url = service.settings.mongo_url.replace(f"{host}:{port}", f"127.0.0.1:{proxied_port}")
    mongo = Mongo(service.settings.model_copy(update={"mongo_url": url}))
    outbox = Outbox(service.settings)
    ledger = StallAfterLookup(LedgerStore(mongo, outbox), proxy)
    stalled = dataclasses.replace(
        deps,
        ledger=ledger,
        accounts=AccountStore(mongo),
        rewards=RewardStore(mongo),
        redemptions=RedemptionStore(mongo, outbox),
    )
    try:
        replica = asyncio.create_task(advance_redemption("p-1", deps=stalled))
        await asyncio.wait_for(ledger.stalled.wait(), 15)

        async def finished() -> bool:
            found = await deps.redemptions.get("p-1")
            return found is not None and found.value.state == State.RESERVED

        await until(finished, timeout=20)  # the other replica's timer did it all
        proxy.resume()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(replica, 20)  # it may lose the race on the document
    finally:
        proxy.resume()
        await mongo.close()
        await proxy.close()

    account = await deps.accounts.get("ana")
    assert account is not None
    assert (account.balance, account.available, account.reserved) == (70, 70, 0)
    assert (await deps.rewards.get("mug")).stock == 4
    await invariant(service.settings)
