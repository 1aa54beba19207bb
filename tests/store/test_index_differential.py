"""Differential test of the stand-in's indexes: every query returns exactly what the same store
returns without any secondary index.

Two collections get the same documents and the same writes; one carries generated index specs.
Every query runs on the indexed one as generated and on the other as a plain scan: its filter
becomes `{$or: [filter, {<absent field>: {$exists: true}}]}` (a `$or` with a branch no index
serves is never a union, and `$or` is not bounded otherwise) and its sort gets an absent field in
front (no index leads with it, not even `_id_`); both change nothing in the answer. Same order
when the sort is total (ends with _id), same set otherwise. Runs on the store at MONGO_URL (the
in-memory backend in `make test`) and on a private H2 (on-disk) stand-in. ICR_INDEX_EXAMPLES
scales the number of cases.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import Int64, ObjectId
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from .conftest import private_store

pytestmark = pytest.mark.infra

EXAMPLES = int(os.environ.get("ICR_INDEX_EXAMPLES", "500"))
OIDS = [ObjectId(f"{i:024x}") for i in range(1, 5)]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PATHS = ["a", "b", "c", "n.x", "arr", "arr.x"]
ABSENT = "zz_absent"  # no generated document has it

# Numbers stay where int, long and double compare alike in every engine (whole longs up to
# 2**40, fractions only on small doubles).
scalars = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.integers(-(2**40), 2**40).map(Int64),
    st.sampled_from([-1.5, -0.5, 0.0, 0.5, 1.0, 2.5]),
    st.text("ab", max_size=2),
    st.booleans(),
    st.integers(0, 5).map(lambda m: T0 + timedelta(milliseconds=m)),
    st.sampled_from(OIDS),
)
values = st.one_of(
    scalars,
    scalars,
    st.lists(scalars, max_size=3),
    st.fixed_dictionaries({"x": scalars}),
    st.lists(st.fixed_dictionaries({}, optional={"x": scalars}), max_size=2),
)


@st.composite
def documents(draw: st.DrawFn, key: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": key, "u": f"u{key}"}
    for field in ("a", "b", "c", "arr"):
        if draw(st.booleans()):
            doc[field] = draw(values)
    if draw(st.booleans()):
        doc["n"] = draw(st.one_of(st.fixed_dictionaries({}, optional={"x": values}), scalars))
    return doc


@st.composite
def index_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    specs = []
    for i in range(draw(st.integers(1, 3))):
        paths = draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3, unique=True))
        keys = [(p, draw(st.sampled_from([1, -1]))) for p in paths]
        spec: dict[str, Any] = {"keys": keys, "name": f"i{i}"}
        option = draw(st.sampled_from(["", "", "sparse", "partial", "unique"]))
        if option == "sparse":
            spec["sparse"] = True
        elif option == "partial":
            spec["partialFilterExpression"] = {paths[0]: {"$exists": True}}
        elif option == "unique":
            # Unique only where the data is (u, _id). Not over fields that may hold arrays: the
            # library's own unique index loses a document whose array is empty (its bug, not the
            # planner's), and these indexes are the library's.
            spec["keys"] = [("u", 1), ("_id", -1)] if draw(st.booleans()) else [("u", -1)]
            spec["unique"] = True
        specs.append(spec)
    if draw(st.booleans()):  # an index led by _id, as `{_id, version}` filters would use
        specs.append({"keys": [("_id", 1), ("a", 1)], "name": "id_a"})
    return specs


def condition(path: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        scalars.map(lambda v: {path: v}),
        scalars.map(lambda v: {path: {"$eq": v}}),
        st.lists(scalars, min_size=1, max_size=3).map(lambda vs: {path: {"$in": vs}}),
        st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), scalars.filter(bool)).map(
            lambda t: {path: {t[0]: t[1]}}
        ),
        st.tuples(scalars.filter(bool), scalars.filter(bool)).map(
            lambda t: {path: {"$gte": t[0], "$lt": t[1]}}
        ),
        scalars.map(lambda v: {path: {"$ne": v}}),
        st.booleans().map(lambda b: {path: {"$exists": b}}),
    )


conditions = st.sampled_from([*PATHS, "u"]).flatmap(condition) | st.one_of(
    st.integers(-1, 12).map(lambda k: {"_id": k}),
    st.integers(-1, 12).map(lambda k: {"u": f"u{k}"}),
    st.lists(st.integers(-1, 12), min_size=1, max_size=3).map(
        lambda ks: {"u": {"$in": [f"u{k}" for k in ks]}}
    ),
    st.lists(st.integers(-1, 12), min_size=1, max_size=3).map(lambda ks: {"_id": {"$in": ks}}),
)


def combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One filter of all parts; a part whose keys are taken goes into `$and`."""
    flt: dict[str, Any] = {}
    for part in parts:
        if set(part) & set(flt):
            flt.setdefault("$and", []).append(part)
        else:
            flt.update(part)
    return flt


# A `$or` branch: one or two conditions, indexable or not, now and then a `$or` itself.
branches = st.lists(conditions, min_size=1, max_size=2).map(combine) | st.lists(
    conditions, min_size=1, max_size=2
).map(lambda alternatives: {"$or": alternatives})
alternatives = st.lists(branches, min_size=1, max_size=3).map(lambda bs: {"$or": bs})


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return {}
    parts = draw(st.lists(conditions, max_size=3))
    if shape <= 3:  # a $or of alternatives beside the other conditions (top level if alone)
        parts.append(draw(alternatives))
    elif shape == 4:  # a $or inside an explicit top-level $and
        return {"$and": [draw(alternatives), *parts]}
    return combine(parts)


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    query: dict[str, Any] = {"filter": draw(filters())}
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(PATHS), max_size=2, unique=True))
        sort = [(k, draw(st.sampled_from([1, -1]))) for k in keys]
        sort.append(("_id", draw(st.sampled_from([1, -1]))))
        query["sort"] = sort
        query["skip"] = draw(st.integers(0, 3))
        query["limit"] = draw(st.integers(0, 5))
    return query


@st.composite
def writes(draw: st.DrawFn, next_key: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["update", "delete", "replace", "insert"]))
    if kind == "update":
        field = draw(st.sampled_from(["a", "b", "c", "arr", "n"]))
        return {"kind": kind, "filter": draw(conditions | filters()), "set": {field: draw(values)}}
    if kind == "delete":
        return {"kind": kind, "filter": draw(conditions | filters())}
    if kind == "replace":
        key = draw(st.integers(0, next_key))
        return {"kind": kind, "key": key, "doc": draw(documents(key))}
    return {"kind": kind, "doc": draw(documents(next_key + draw(st.integers(0, 50))))}


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 12))
    docs = [draw(documents(k)) for k in range(n)]
    steps: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 2)) == 0:
            steps.append(draw(writes(n)))
        else:
            steps.append({"kind": "query", **draw(queries())})
    return {"docs": docs, "indexes": draw(index_specs()), "steps": steps}


def run(coll: Collection[Any], step: dict[str, Any], *, plain: bool) -> Any:
    """One step on one collection; the outcome (ids, or the error's class) to compare."""

    def scan(flt: dict[str, Any]) -> dict[str, Any]:
        return {"$or": [flt, {ABSENT: {"$exists": True}}]} if plain else flt

    try:
        kind = step["kind"]
        if kind == "query":
            cursor = coll.find(scan(step["filter"]), {"_id": 1})
            if "sort" in step:
                sort = [(ABSENT, 1), *step["sort"]] if plain else step["sort"]
                cursor = cursor.sort(sort).skip(step["skip"]).limit(step["limit"])
                return [d["_id"] for d in cursor]
            return sorted((d["_id"] for d in cursor), key=repr)  # _ids of mixed types
        if kind == "update":
            return coll.update_many(scan(step["filter"]), {"$set": step["set"]}).matched_count
        if kind == "delete":
            return coll.delete_many(scan(step["filter"])).deleted_count
        if kind == "replace":
            doc = {k: v for k, v in step["doc"].items() if k != "_id"}
            return coll.replace_one({"_id": step["key"]}, doc).matched_count
        coll.insert_one(dict(step["doc"]))
        return "inserted"
    except PyMongoError as exc:
        return type(exc).__name__


def check(db: Any, scenario: dict[str, Any]) -> None:
    plain, indexed = db["plain"], db["indexed"]
    plain.drop()
    indexed.drop()
    for spec in scenario["indexes"]:
        options = {k: v for k, v in spec.items() if k not in ("keys",)}
        indexed.create_index(spec["keys"], **options)
    if scenario["docs"]:
        plain.insert_many([dict(d) for d in scenario["docs"]])
        indexed.insert_many([dict(d) for d in scenario["docs"]])
    for step in scenario["steps"]:
        expected = run(plain, step, plain=True)
        got = run(indexed, step, plain=False)
        assert got == expected, f"{step}\nindexes {scenario['indexes']}"
    final = sorted(map(repr, plain.find({"$or": [{}]}).sort([(ABSENT, 1), ("_id", 1)])))
    assert sorted(map(repr, indexed.find().sort("_id", 1))) == final


# Cases found or feared, always run first. An equality on a multikey key does not fix that
# key's sort order: [5, 1] sorts by 1, so the index's order after `a` is not the answer's.
REGRESSIONS: list[dict[str, Any]] = [
    {
        "docs": [{"_id": 0, "u": "u0", "a": [5, 1]}, {"_id": 1, "u": "u1", "a": 5}],
        "indexes": [{"keys": [("a", 1), ("_id", -1)], "name": "a_id"}],
        "steps": [
            {
                "kind": "query",
                "filter": {"a": 5},
                "sort": [("a", 1), ("_id", -1)],
                "skip": 0,
                "limit": 0,
            }
        ],
    },
    # The _id index walked for a sort: every BSON type in _id, both directions, skip and limit,
    # also after writes; and a range on _id.
    {
        "docs": [
            {"_id": v, "u": f"u{i}"}
            for i, v in enumerate(
                [2.5, "a", OIDS[0], T0, Int64(2**40), -1, False, {"x": 1}, None, 0, "", 3]
            )
        ],
        "indexes": [{"keys": [("a", 1)], "name": "a"}],
        "steps": [
            *(
                {"kind": "query", "filter": {}, "sort": [("_id", d)], "skip": k, "limit": n}
                for d in (1, -1)
                for k, n in ((0, 0), (1, 3), (4, 2))
            ),
            {"kind": "delete", "filter": {"_id": "a"}},
            {"kind": "insert", "doc": {"_id": "b", "u": "ub"}},
            {"kind": "query", "filter": {}, "sort": [("_id", -1)], "skip": 0, "limit": 5},
            {"kind": "query", "filter": {"_id": {"$gt": 0}}},
            {"kind": "query", "filter": {"a": None}},  # {_id: null} from a secondary index too
            {"kind": "query", "filter": {"_id": {"$gte": "", "$lt": "z"}}},
        ],
    },
    # A union: a document several branches (and several multikey entries) hold comes once; a
    # branch no index serves makes the whole $or a scan; a $or inside a top-level $and.
    {
        "docs": [
            {"_id": 0, "u": "u0", "a": [1, 2], "b": 1},
            {"_id": 1, "u": "u1", "a": 2},
            {"_id": 2, "u": "u2", "b": 1, "c": 7},
            {"_id": 3, "u": "u3", "c": 7},
        ],
        "indexes": [{"keys": [("a", 1)], "name": "a"}, {"keys": [("b", -1)], "name": "b"}],
        "steps": [
            {"kind": "query", "filter": {"$or": [{"a": 1}, {"a": 2}, {"b": 1}]}},
            {
                "kind": "query",
                "filter": {"$or": [{"a": 2}, {"b": 1}]},
                "sort": [("_id", -1)],
                "skip": 1,
                "limit": 2,
            },
            {"kind": "query", "filter": {"$or": [{"a": 2}, {"c": 7}]}},
            {"kind": "query", "filter": {"$and": [{"$or": [{"a": 2}, {"b": 1}]}, {"b": 1}]}},
            {"kind": "update", "filter": {"$or": [{"a": 1}, {"b": 1}]}, "set": {"a": 9}},
            {"kind": "delete", "filter": {"$or": [{"a": 9}, {"_id": 3}]}},
        ],
    },
]


def differential(url: str) -> None:
    client: MongoClient[Any] = MongoClient(url, tz_aware=True)
    db = client[f"test_idx_{secrets.token_hex(4)}"]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(scenarios())
    def body(scenario: dict[str, Any]) -> None:
        check(db, scenario)

    for case in REGRESSIONS:
        body = example(case)(body)
    try:
        body()
    finally:
        client.drop_database(db.name)
        client.close()


def test_indexes_answer_like_a_scan_on_the_shared_store() -> None:
    differential(os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27018/?directConnection=true"))


@pytest.fixture(scope="module")
def h2_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("h2")
    with private_store(folder, h2=True) as store:
        yield store.url


def test_indexes_answer_like_a_scan_on_the_h2_backend(h2_store: str) -> None:
    differential(h2_store)


def test_h2_rebuilds_its_secondary_indexes_when_it_reopens(tmp_path: Path) -> None:
    rows = [{"_id": i, "a": i % 7, "arr": [i % 3, -i], "n": {"x": str(i % 5)}} for i in range(500)]
    queries: list[tuple[dict[str, Any], list[tuple[str, int]]]] = [
        ({"a": 3}, [("n.x", 1), ("_id", 1)]),
        ({"a": {"$in": [1, 2]}, "n.x": {"$gte": "2"}}, [("_id", -1)]),
        ({"arr": {"$lt": -490}}, [("_id", 1)]),
        ({}, [("_id", -1)]),  # the _id order is rebuilt too
    ]
    with private_store(tmp_path, h2=True) as store:
        client: MongoClient[Any] = MongoClient(store.url)
        coll = client.db.c
        coll.create_index([("a", 1), ("n.x", 1), ("_id", 1)], name="a_nx")
        coll.create_index([("arr", -1)], name="arr")
        coll.create_index([("b", 1)], name="partial_b", partialFilterExpression={"b": {"$gt": 0}})
        coll.insert_many(rows)
        coll.delete_many({"a": 0})
        coll.update_many({"a": 6}, {"$set": {"a": 1}})
        before = [list(coll.find(f, sort=s)) for f, s in queries]
        client.close()
    with private_store(tmp_path, h2=True) as store:
        assert "secondary index entries rebuilt" in store.output()
        client = MongoClient(store.url)
        coll = client.db.c
        for (flt, sort), expected in zip(queries, before, strict=True):
            assert list(coll.find(flt, sort=sort)) == expected
            assert list(coll.find({"$or": [flt]}, sort=sort)) == expected  # a scan agrees
        plans = [coll.find(f, sort=s).explain()["queryPlanner"]["winningPlan"] for f, s in queries]
        assert [str(p).count("IXSCAN") for p in plans] == [1, 1, 1, 1]
        assert list(coll.find(limit=3, sort=[("_id", -1)])) == before[-1][:3]
        # Still known as partial after reopening (the library forgets the option).
        partial = coll.find({}, sort=[("b", 1)]).explain()["queryPlanner"]["winningPlan"]
        assert "IXSCAN" not in str(partial)
        client.close()
