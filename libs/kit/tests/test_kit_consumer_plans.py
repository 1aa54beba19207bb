"""The consumer's own queries (holds, parked events, positions) are served by declared indexes,
by the server's plan (explain): on the stand-in in `make test`, on MongoDB alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from icr.kit.consumer import CONSUMER_INDEXES
from icr.kit.holds import ACTIONS, HOLDS_COLLECTION, PARKED_COLLECTION
from icr.kit.inbox import POSITIONS_COLLECTION
from icr.kit.mongo import Mongo, winning_index
from icr.kit.testing import service_settings_for_test

pytestmark = pytest.mark.infra


@pytest.fixture
async def mongo() -> AsyncIterator[Mongo]:
    store = Mongo(service_settings_for_test(service_name="kit"))
    await store.ensure_indexes(CONSUMER_INDEXES)
    holds = store.collection(HOLDS_COLLECTION)
    parked = store.collection(PARKED_COLLECTION)
    for g in range(5):
        for a in range(40):
            key = f"g{g}|t|a{a}"
            action = "redrive" if a == 0 else None
            await holds.insert_one({"_id": key, "group": f"g{g}", "action": action})
            await parked.insert_many(
                [{"_id": f"{key}|0|{o}", "hold": key, "offset": o} for o in range(3)]
            )
    try:
        yield store
    finally:
        await store.client.drop_database(store.db.name)
        await store.close()


async def test_hold_queries_are_served_by_the_group_action_index(mongo: Mongo) -> None:
    holds = mongo.collection(HOLDS_COLLECTION)
    # Holds.requested (every hold check) and Holds.of_partitions (every assignment).
    requested = {"group": "g1", "action": {"$in": list(ACTIONS)}}
    assert await winning_index(holds, requested) == "group_action"
    assert await winning_index(holds, {"group": "g1"}) == "group_action"


async def test_parked_events_are_read_in_order_from_the_hold_offset_index(mongo: Mongo) -> None:
    parked = mongo.collection(PARKED_COLLECTION)
    assert await winning_index(parked, {"hold": "g1|t|a3"}, [("offset", 1)]) == "hold_offset"


async def test_positions_are_read_by_id(mongo: Mongo) -> None:
    positions = mongo.collection(POSITIONS_COLLECTION)
    await positions.insert_many([{"_id": f"g|t|k:{i}", "seq": i} for i in range(50)])
    assert await winning_index(positions, {"_id": {"$in": ["g|t|k:1", "g|t|k:7"]}}) == "_id_"
    update = {"$max": {"seq": 3}}
    assert await winning_index(positions, {"_id": "g|t|k:1"}, update=update) == "_id_"
