"""The reward catalog (stock taken by guarded writes) and redemptions (versioned, with events
and a durable timer that finishes one a crash interrupted)."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.incentives.domain.errors import Conflict
from icr.incentives.domain.rewards import Redemption, Reward, State
from icr.incentives.handlers.ports import Versioned
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import Outbox
from icr.kit.scheduler import due_index

REWARDS = "rewards"
REDEMPTIONS = "redemptions"
REDEMPTION_DUE = "due_at"
REWARD_INDEXES = [IndexModel([("active", ASCENDING), ("_id", ASCENDING)], name="active")]
REDEMPTION_INDEXES = [
    IndexModel([("person_id", ASCENDING), ("requested_at", DESCENDING)], name="by_person"),
    IndexModel([("state", ASCENDING), ("requested_at", DESCENDING)], name="by_state"),
    IndexModel([("requested_at", DESCENDING)], name="newest"),
    due_index(REDEMPTION_DUE),
]


def _reward(doc: Document) -> Reward:
    return Reward(
        doc["_id"],
        doc["name"],
        doc["cost"],
        doc["stock"],
        doc["active"],
        doc.get("description", {}),
    )


class RewardStore:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(REWARDS)

    async def get(self, reward_id: str) -> Reward | None:
        doc = await self.collection.find_one({"_id": reward_id})
        return None if doc is None else _reward(doc)

    async def list(self, *, active_only: bool) -> list[Reward]:
        if active_only:
            cursor = self.collection.find({"active": True}, sort=[("active", 1), ("_id", 1)])
        else:
            cursor = self.collection.find({}, sort=[("_id", ASCENDING)])
        return [_reward(d) async for d in cursor]

    async def put(self, reward: Reward) -> None:
        """Creates or changes a reward; `stock` is what is left to redeem from now on (units
        held by open redemptions are already out of it)."""
        await self.collection.update_one(
            {"_id": reward.reward_id},
            {
                "$set": {
                    "name": reward.name,
                    "description": reward.description,
                    "cost": reward.cost,
                    "stock": reward.stock,
                    "active": reward.active,
                },
                "$setOnInsert": {"holders": []},
            },
            upsert=True,
        )

    async def take_stock(self, reward_id: str, hold_id: str) -> bool:
        result = await self.collection.update_one(
            {"_id": reward_id, "active": True, "stock": {"$gte": 1}, "holders": {"$ne": hold_id}},
            {"$inc": {"stock": -1}, "$push": {"holders": hold_id}},
        )
        if result.modified_count:
            return True
        doc = await self.collection.find_one({"_id": reward_id}, projection={"holders": 1})
        return doc is not None and hold_id in doc.get("holders", [])

    async def release_stock(self, reward_id: str, hold_id: str, *, restock: bool) -> None:
        update: Document = {"$pull": {"holders": hold_id}}
        if restock:
            update["$inc"] = {"stock": 1}
        await self.collection.update_one({"_id": reward_id, "holders": hold_id}, update)


def _redemption_fields(r: Redemption) -> Document:
    return {
        "person_id": r.person_id,
        "department_id": r.department_id,
        "reward_id": r.reward_id,
        "cost": r.cost,
        "state": str(r.state),
        "requested_at": r.requested_at,
        "reason": r.reason,
        "settled": r.settled,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at,
    }


def _redemption(doc: Document) -> Redemption:
    return Redemption(
        redemption_id=doc["_id"],
        person_id=doc["person_id"],
        department_id=doc["department_id"],
        reward_id=doc["reward_id"],
        cost=doc["cost"],
        state=State(doc["state"]),
        requested_at=doc["requested_at"],
        reason=doc.get("reason", ""),
        settled=doc.get("settled", False),
        decided_by=doc.get("decided_by", ""),
        decided_at=doc.get("decided_at"),
    )


class RedemptionStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.collection = mongo.collection(REDEMPTIONS)
        self.outbox = outbox

    async def get(self, redemption_id: str) -> Versioned[Redemption] | None:
        doc = await self.collection.find_one({"_id": redemption_id})
        return None if doc is None else Versioned(_redemption(doc), doc["version"])

    async def add(self, redemption: Redemption, *, due_at: datetime) -> None:
        events, redemption.events = redemption.events, []
        doc = {"_id": redemption.redemption_id, **_redemption_fields(redemption)}
        try:
            await self.outbox.insert(self.collection, {**doc, REDEMPTION_DUE: due_at}, events)
        except DuplicateKeyError:
            raise Conflict("redemption exists") from None

    async def save(self, redemption: Versioned[Redemption], *, due_at: datetime | None) -> None:
        r = redemption.value
        events, r.events = r.events, []
        fields = {**_redemption_fields(r), REDEMPTION_DUE: due_at}
        await self.outbox.update(
            self.collection, r.redemption_id, redemption.version, fields, events
        )
        redemption.version += 1

    async def list(
        self, *, person_id: str | None, state: State | None, limit: int
    ) -> list[Redemption]:
        query: Document = {}
        if person_id is not None:
            query["person_id"] = person_id
        if state is not None:
            query["state"] = str(state)
        sort = [("requested_at", DESCENDING)]
        if person_id is not None:
            sort = [("person_id", ASCENDING), *sort]
        elif state is not None:
            sort = [("state", ASCENDING), *sort]
        docs = self.collection.find(query, sort=sort).limit(limit)
        return [_redemption(d) async for d in docs]
