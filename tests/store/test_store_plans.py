"""The store's own plan (explain) for the hot paths: the department queue and the optimistic
`{_id, version}` save are served by an index, and the queue stops after one page; the access
rule's `$or` is an index union; an unfiltered listing walks the index of its sort.

Asks the server at MONGO_URL, so it checks the stand-in in `make test` and real MongoDB alike."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

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
START = datetime(2024, 1, 1, tzinfo=UTC)
STATUSES = ["submitted", "accepted", "in_progress", "waiting_on_requester", "resolved", "closed"]


@pytest.fixture
async def mongo() -> AsyncIterator[Mongo]:
    store = Mongo(service_settings_for_test())
    await store.ensure_indexes({"requests": [*INDEXES["requests"], *OUTBOX_INDEXES]})
    rng = random.Random(5)
    start = START
    await store.collection("requests").insert_many(
        [
            {
                "_id": f"r{i}",
                "version": 1,
                "provider_department_id": f"d{rng.randrange(10)}",
                "requester_id": f"p{rng.randrange(100)}",
                "requester_department_id": f"d{rng.randrange(10)}",
                "assignee_id": f"p{rng.randrange(100)}" if i % 3 == 0 else None,
                "parent_id": f"r{i - 1}" if i % 50 == 1 else None,
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


def stages(node: Any) -> list[Mapping[str, Any]]:
    """Every stage of a plan tree, parents before children."""
    if not isinstance(node, Mapping):
        return []
    found = [node] if "stage" in node else []
    for child in [node.get("queryPlan"), node.get("inputStage"), *node.get("inputStages", [])]:
        found += stages(child)
    return found


def scanned_indexes(explain: Mapping[str, Any]) -> list[str]:
    plan = explain["queryPlanner"]["winningPlan"]
    return sorted(str(n["indexName"]) for n in stages(plan) if n["stage"] == "IXSCAN")


def stage_names(explain: Mapping[str, Any]) -> list[str]:
    return [str(n["stage"]) for n in stages(explain["queryPlanner"]["winningPlan"])]


def listing(actor: Actor, filters: RequestFilters | None = None) -> RequestQuery:
    filters = filters or RequestFilters()
    return RequestQuery(visibility=visibility(actor), filters=filters, limit=PAGE)


async def test_the_access_rule_or_is_an_index_union_reading_each_document_once(
    mongo: Mongo,
) -> None:
    requests = mongo.collection("requests")
    # Requested and assigned to oneself: both branches hold these, the answer has them once.
    await requests.insert_many(
        [
            {"_id": f"self{i}", "requester_id": "p7", "assignee_id": "p7", "submitted_at": START}
            for i in range(3)
        ]
    )
    employee = listing(Actor("p7", "d1", frozenset({Role.EMPLOYEE})))
    flt, sort = build_filter(employee), sort_spec(employee)
    assert flt == {"$or": [{"requester_id": "p7"}, {"assignee_id": "p7"}]}
    explain = await requests.find(flt, sort=sort).explain()
    assert scanned_indexes(explain) == ["by_assignee", "by_requester"]
    names = stage_names(explain)
    assert "OR" in names
    assert "COLLSCAN" not in names
    assert names.index("FETCH") < names.index("OR")  # FETCH <- OR <- [IXSCAN, IXSCAN]
    matches = await requests.count_documents({"$or": [flt, {"zz_absent": {"$exists": True}}]})
    stats = explain["executionStats"]
    assert stats["nReturned"] == matches
    assert stats["totalDocsExamined"] == matches  # each once, and nothing but the matches
    got = await requests.find(flt, sort=sort).to_list()
    scan = requests.find({"$or": [flt, {"zz_absent": {"$exists": True}}]}, sort=sort)
    assert got == await scan.to_list()


async def test_an_agents_rule_with_four_alternatives_is_a_union_of_four_scans(mongo: Mongo) -> None:
    agent = listing(Actor("p3", "d3", frozenset({Role.AGENT})))
    explain = await mongo.collection("requests").find(build_filter(agent)).explain()
    indexes = scanned_indexes(explain)
    assert len(indexes) == 4
    assert {"by_requester", "by_assignee", "by_consumer"} < set(indexes)
    assert "COLLSCAN" not in stage_names(explain)


async def test_an_equality_beside_the_or_beats_the_union(mongo: Mongo) -> None:
    agent = Actor("p3", "d3", frozenset({Role.AGENT}))
    mine = listing(agent, RequestFilters(assignee_ids=("p3",)))
    flt = build_filter(mine)
    assert flt["$and"][1] == {"assignee_id": {"$eq": "p3"}}
    explain = await mongo.collection("requests").find(flt, sort=sort_spec(mine)).explain()
    assert scanned_indexes(explain) == ["by_assignee"]
    assert "OR" not in stage_names(explain)


async def test_an_or_with_a_branch_no_index_serves_is_a_scan(mongo: Mongo) -> None:
    requests = mongo.collection("requests")
    assert await winning_index(requests, {"$or": [{"requester_id": "p7"}, {"version": 2}]}) is None


@pytest.mark.parametrize(("direction", "walk"), [(1, "forward"), (-1, "backward")])
async def test_an_unfiltered_sort_on_id_walks_the_id_index_and_stops_at_the_limit(
    mongo: Mongo, direction: int, walk: str
) -> None:
    requests = mongo.collection("requests")
    explain = await requests.find({}, sort=[("_id", direction)], skip=2, limit=5).explain()
    assert scanned_indexes(explain) == ["_id_"]
    scan = next(n for n in stages(explain["queryPlanner"]["winningPlan"]) if n["stage"] == "IXSCAN")
    assert scan["direction"] == walk
    assert "SORT" not in stage_names(explain)
    assert explain["executionStats"]["nReturned"] == 5
    assert explain["executionStats"]["totalDocsExamined"] == 7  # skip + limit, at any size
    ids = sorted(f"r{i}" for i in range(DOCS))[::direction][2:7]
    got = await requests.find({}, {"_id": 1}, sort=[("_id", direction)], skip=2, limit=5).to_list()
    assert [d["_id"] for d in got] == ids


async def test_an_unfiltered_sort_walks_a_secondary_index_led_by_its_keys(mongo: Mongo) -> None:
    requests = mongo.collection("requests")
    sort = [("requester_id", -1), ("submitted_at", 1), ("_id", 1)]  # by_requester, reversed
    explain = await requests.find({}, sort=sort, limit=PAGE).explain()
    assert scanned_indexes(explain) == ["by_requester"]
    assert "SORT" not in stage_names(explain)
    assert explain["executionStats"]["totalDocsExamined"] == PAGE


async def test_a_sparse_partial_or_multikey_index_never_serves_a_sort_alone(mongo: Mongo) -> None:
    other = mongo.collection("sort_safety")
    await other.create_index([("s", 1)], name="sparse_s", sparse=True)
    partial = {"p": {"$gt": 5}}
    await other.create_index([("p", 1)], name="partial_p", partialFilterExpression=partial)
    await other.create_index([("tags", 1)], name="tags")
    await other.insert_many(
        [{"_id": i, "p": i, "tags": [i, -i]} | ({"s": i} if i % 2 else {}) for i in range(20)]
    )
    # Sparse and partial indexes lack documents; a multikey index holds a document once per
    # element, in no order the sort (by each array's smallest element) would follow.
    assert await winning_index(other, {}, [("s", 1)]) is None
    assert await winning_index(other, {}, [("p", 1)]) is None
    assert await winning_index(other, {}, [("tags", 1)]) is None
    got = await other.find({}, {"_id": 1}, sort=[("s", 1), ("_id", 1)]).to_list()
    assert [d["_id"] for d in got][:10] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]  # missing first
