"""The fatigue cap's counters: which requests each person was invited about, per cap period."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from icr.kit.mongo import Mongo

INVITATION_CAPS = "invitation_caps"
INDEXES: dict[str, list[object]] = {INVITATION_CAPS: []}


class CapStore:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(INVITATION_CAPS)

    async def take(self, person_id: str, period_key: str, request_id: str, cap: int) -> bool:
        """Counts an invitation about `request_id` against the person's cap; True when it fits.

        One conditional write decides, so two replicas cannot both take the last place; the
        request id is kept, so a redelivered resolution of a request already counted fits again
        instead of using a second place."""
        key = f"{person_id}|{period_key}"
        guard = {"_id": key, "requests": {"$ne": request_id}, "count": {"$lt": cap}}
        update = {"$push": {"requests": request_id}, "$inc": {"count": 1}}
        if cap <= 0:
            return False
        try:
            result = await self.collection.update_one(guard, update, upsert=True)
        except DuplicateKeyError:
            # The document exists and the guard failed: counted already, or the cap is reached.
            result = await self.collection.update_one(guard, update)
            if result.modified_count:
                return True
        else:
            if result.modified_count or result.upserted_id is not None:
                return True
        known = await self.collection.find_one({"_id": key, "requests": request_id}, {"_id": 1})
        return known is not None
