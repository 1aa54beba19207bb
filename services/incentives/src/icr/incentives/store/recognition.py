"""Giving allowances: one versioned document per person and month, gifts and events inside."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from icr.incentives.domain.recognition import GivingAllowance
from icr.incentives.handlers.ports import Versioned
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import ConcurrentUpdate, Outbox

ALLOWANCES = "allowances"


def _fields(a: GivingAllowance) -> Document:
    return {
        "person_id": a.person_id,
        "month": a.month,
        "allowance": a.allowance,
        "given": a.given,
        "by_recipient": a.by_recipient,
    }


class AllowanceStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.collection = mongo.collection(ALLOWANCES)
        self.outbox = outbox

    async def get(self, allowance_id: str) -> Versioned[GivingAllowance] | None:
        doc = await self.collection.find_one({"_id": allowance_id})
        if doc is None:
            return None
        allowance = GivingAllowance(
            doc["person_id"], doc["month"], doc["allowance"], doc["given"], doc["by_recipient"]
        )
        return Versioned(allowance, doc["version"])

    async def add(self, allowance: GivingAllowance) -> None:
        events, allowance.events = allowance.events, []
        try:
            await self.outbox.insert(
                self.collection, {"_id": allowance.id, **_fields(allowance)}, events
            )
        except DuplicateKeyError:
            raise ConcurrentUpdate(f"allowance {allowance.id} created meanwhile") from None

    async def save(self, allowance: Versioned[GivingAllowance]) -> None:
        a = allowance.value
        events, a.events = a.events, []
        await self.outbox.update(self.collection, a.id, allowance.version, _fields(a), events)
        allowance.version += 1
