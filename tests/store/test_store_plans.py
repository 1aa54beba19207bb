"""The store's own plan (explain) for the hot paths: the department queue and the optimistic
`{_id, version}` save are served by an index, and the queue stops after one page.

Asks the server at MONGO_URL, so it checks the stand-in in `make test` and real MongoDB alike."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from icr.kit.mongo import Mongo, index_of_plan, winning_index
from icr.kit.outbox import OUTBOX_INDEXES
from icr.kit.testing import service_settings_for_test
from icr.requests.domain import Actor, Role, visibility
from icr.requests.domain.lifecycle import OPEN
from icr.requests.store import INDEXES, RequestFilters, RequestQuery
from icr.requests.store.query import build_filter, sort_spec

pytestmark = pytest.mark.infra

DOCS = 3_000
PAGE = 20
STATUSES = ["submitted", "accepted", "in_progress", "waiting_on_requester", "resolved", "closed"]


@pytest.fixture
async def mongo() -> AsyncIterator[Mongo]:
    store = Mongo(service_settings_for_test())
    await store.ensure_indexes({"requests": [*INDEXES["requests"], *OUTBOX_INDEXES]})
    rng = random.Random(5)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    await store.collection("requests").insert_many(
        [
            {
                "_id": f"r{i}",
                "version": 1,
                "provider_department_id": f"d{rng.randrange(10)}",
                "requester_id": f"p{rng.randrange(100)}",
                "status": rng.choice(STATUSES),
                "submitted_at": start + timedelta(minutes=i),
                "due_at": start + timedelta(minutes=rng.randrange(10_000)),
            }
            for i in range(DOCS)
        ]
    )
    try:
        yield store
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()


def queue() -> RequestQuery:
    agent = Actor("agent", "d7", frozenset({Role.AGENT}))
    return RequestQuery(
        visibility=visibility(agent),
        filters=RequestFilters(provider_department_ids=("d7",), statuses=tuple(OPEN)),
        limit=PAGE,
    )


async def test_department_queue_is_served_by_its_index_and_stops_after_a_page(mongo) -> None:
    requests = mongo.collection("requests")
    flt, sort = build_filter(queue()), sort_spec(queue())
    assert await winning_index(requests, flt, sort) == "queue_by_created"
    explain = await requests.find(flt, sort=sort, limit=PAGE + 1).explain()
    assert index_of_plan(explain) == "queue_by_created"
    stats = explain["executionStats"]
    assert stats["nReturned"] == PAGE + 1
    # A scan (or a blocking sort over every open request of d7) would read hundreds here.
    assert stats["totalDocsExamined"] <= 2 * (PAGE + 1)


async def test_optimistic_save_filter_is_served_by_the_id_index(mongo) -> None:
    requests = mongo.collection("requests")
    save = {"_id": "r42", "version": 1}
    assert await winning_index(requests, save) == "_id_"
    assert await winning_index(requests, save, update={"$set": {"version": 2}}) == "_id_"
    # The relay's claim: _id plus conditions the index does not cover.
    claim = {
        "_id": "r42",
        "outbox_pending": True,
        "$or": [{"outbox_lease_until": None}, {"outbox_lease_owner": "me"}],
    }
    assert await winning_index(requests, claim, update={"$set": {"x": 1}}) == "_id_"


async def test_a_query_on_no_declared_index_is_reported_as_a_scan(mongo) -> None:
    requests = mongo.collection("requests")
    assert await winning_index(requests, {"version": 1}) is None


async def test_equality_prefix_and_range_use_the_compound_index(mongo) -> None:
    requests = mongo.collection("requests")
    by_due = {"provider_department_id": "d3", "due_at": {"$lt": datetime(2024, 1, 2, tzinfo=UTC)}}
    assert await winning_index(requests, by_due) == "queue_by_due"
    explain = await requests.find(by_due).explain()
    expected = await requests.count_documents(by_due)
    assert explain["executionStats"]["nReturned"] == expected
    assert explain["executionStats"]["totalDocsExamined"] == expected
