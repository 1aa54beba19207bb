"""A consumer killed for real between two steps of a settlement (a subprocess that dies with
os._exit right after the ledger insert, before counting the entries or committing the offset),
then a fresh process of the same group: Kafka redelivers the rating, the ledger refuses the
entries already in it, and the projection timer counts them. Paid once, counted once.

The same in the middle of a batch: a member handling a poll's records at once dies right after
one insert that carried the entries of several requests together (coalesced), before counting
them, saving any of their facts or committing a single offset."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from icr.contracts import topics
from icr.incentives.settings import IncentivesSettings
from icr.kit.kafka import ensure_topics
from icr.kit.mongo import Mongo
from icr.kit.testing import publish

pytestmark = pytest.mark.infra

CRASHING_MEMBER = """
import asyncio, json, os, sys
from asgi_lifespan import LifespanManager
from icr.incentives.main import build_app
from icr.incentives.settings import IncentivesSettings
from icr.incentives.store.ledger import LedgerStore

settings = IncentivesSettings(**json.loads(sys.argv[1]))
append_many = LedgerStore.append_many

async def append_then_die(self, entries, *, project_due):
    new = await append_many(self, entries, project_due=project_due)
    if any(e.rule_id == "agent-sla-rated" for e in entries):
        os._exit(9)  # no cleanup, no projection, no offset commit
    return new

LedgerStore.append_many = append_then_die

async def main():
    async with LifespanManager(build_app(settings)):
        await asyncio.sleep(120)
    sys.exit(3)  # never got to the settlement

asyncio.run(main())
"""


CRASHING_BATCH = """
import asyncio, json, os, sys
from asgi_lifespan import LifespanManager
from icr.incentives.main import build_app
from icr.incentives.settings import IncentivesSettings
from icr.incentives.store.ledger import LedgerStore

settings = IncentivesSettings(**json.loads(sys.argv[1]))
append_rows = LedgerStore._append_rows

async def append_then_die(self, calls):
    new = await append_rows(self, calls)
    if len(calls) >= 2:  # several requests' entries in this one insert: mid-batch
        os._exit(9)  # no cleanup, no projection, no facts saved, no offset commit
    return new

LedgerStore._append_rows = append_then_die

async def main():
    async with LifespanManager(build_app(settings)):
        await asyncio.sleep(60)
    sys.exit(3)  # never had two requests' entries in one insert

asyncio.run(main())
"""


async def crash_member(script: str, settings: IncentivesSettings) -> None:
    """Runs `script` as a member of its own process, which kills itself (exit 9) mid-way."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    member = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        json.dumps(settings.model_dump(mode="json")),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(member.wait(), 90) == 9


async def test_a_member_killed_mid_batch_pays_each_request_once_and_counts_once(  # type: ignore[no-untyped-def]
    flow, run, until, invariant, fresh_settings
) -> None:
    settings: IncentivesSettings = fresh_settings(consumer_members=1, consumer_concurrency=200)
    await ensure_topics(settings, [topics.REQUESTS, topics.DIRECTORY, topics.RATINGS])
    # Requesters of departments of their own: the department pair cap never bites.
    flows = [flow(requester=f"p{n}", requester_dept=f"d{n}", assignee=f"a{n}") for n in range(12)]
    await publish(settings, *[e for f in flows for e in (f.submitted(), f.resolved(), f.rated(5))])
    await crash_member(CRASHING_BATCH, settings)

    mongo = Mongo(settings)
    try:
        ledger = await mongo.collection("ledger").find({}).to_list()
        paid = {e["request_id"] for e in ledger}
        assert len(paid) >= 2  # the entries of several requests went in together
        assert any(e["project_due"] is not None for e in ledger)  # and were not counted
        facts = mongo.collection("request_facts")
        assert await facts.count_documents({"settled_round": {"$ne": None}}) < len(flows)

        async with run(settings) as service:
            expected = {"dept:it": 3 * len(flows)}
            for n in range(len(flows)):
                expected |= {f"a{n}": 10, f"p{n}": 1}

            async def counted() -> bool:
                return all([await service.balance(a) == v for a, v in expected.items()])

            await until(counted)
            balances = await invariant(settings)
            assert balances == expected
        assert await mongo.collection("ledger").count_documents({}) == 3 * len(flows)
    finally:
        await mongo.client.drop_database(settings.database)
        await mongo.close()


async def test_a_member_killed_after_the_insert_pays_once_and_counts_once(  # type: ignore[no-untyped-def]
    flow, run, until, invariant, fresh_settings
) -> None:
    settings: IncentivesSettings = fresh_settings(consumer_members=1)
    await ensure_topics(settings, [topics.REQUESTS, topics.DIRECTORY, topics.RATINGS])
    f = flow()
    await publish(settings, f.submitted(), f.resolved(), f.rated(5))
    await crash_member(CRASHING_MEMBER, settings)

    mongo = Mongo(settings)
    try:
        ledger = await mongo.collection("ledger").find({}).to_list()
        # The rating may come before or after the resolution (two topics): the rater's point
        # is paid with the awards or before them; the awards were inserted and never counted.
        assert len(ledger) == 3
        awards = [e for e in ledger if e["trigger"] == "resolution"]
        assert len(awards) == 2
        assert all(e["project_due"] is not None for e in awards)
        assert await mongo.collection("accounts").count_documents({"balance": {"$ne": 0}}) <= 1

        async with run(settings) as service:
            expected = {"bo": 10, "dept:it": 3, "ana": 1}

            async def counted() -> bool:
                return all([await service.balance(a) == v for a, v in expected.items()])

            await until(counted)
            await invariant(settings)
        assert await mongo.collection("ledger").count_documents({}) == 3
    finally:
        await mongo.client.drop_database(settings.database)
        await mongo.close()
