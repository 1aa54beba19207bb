"""Balances: one document per account, derived from the ledger entry by entry.

Each entry is counted once (`apply_once` on the entry id, in the same write as the sums); the
ledger marks an entry counted after this write, and a timer counts an entry a crash left
uncounted, so the window in which a second count could be tried is seconds, well inside the
500 ids `apply_once` remembers per account. `available` is `balance - reserved`: a redemption
holds points with a guarded write that matches only while `available` covers them, so
concurrent redemptions can never take an account below zero.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, IndexModel

from icr.incentives.domain.ledger import Entry, is_department
from icr.incentives.handlers.ports import Account
from icr.incentives.store.bulk import KEEP, CoalescedApply
from icr.kit.mongo import Document, Mongo

ACCOUNTS = "accounts"
ACCOUNT_INDEXES = [IndexModel([("department_id", ASCENDING)], name="by_department")]


def _account(doc: Document) -> Account:
    return Account(
        account=doc["_id"],
        department_id=doc.get("department_id", ""),
        balance=doc.get("balance", 0),
        reserved=doc.get("reserved", 0),
        earned=doc.get("earned", 0),
    )


def _update(entry: Entry) -> Document:
    inc: Document = {"balance": entry.amount}
    if entry.earning:
        inc["earned"] = entry.amount
    if entry.hold_id is None:
        inc["available"] = entry.amount
    else:
        # The hold already took these points out of `available`; now they are spent.
        inc["reserved"] = entry.amount
    update: Document = {"$inc": inc}
    if entry.hold_id is not None:
        # The hold is spent, and remembered as spent: a replica that stalled between its debit
        # lookup and its hold must find it taken, not take a second one that nothing releases.
        update["$pull"] = {"holds": entry.hold_id}
        update["$push"] = {"spent_holds": {"$each": [entry.hold_id], "$slice": -KEEP}}
    if not is_department(entry.account):
        update["$set"] = {"department_id": entry.department_id}
    else:
        update["$set"] = {"department_id": entry.department_id, "department": True}
    return update


class AccountStore:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(ACCOUNTS)
        self._apply = CoalescedApply(self.collection)

    async def apply(self, entry: Entry) -> None:
        await self.apply_many([entry])

    async def apply_many(self, entries: Sequence[Entry]) -> None:
        """Counts each entry into its account, once per entry id, in one round trip."""
        await self._apply([(e.account, _update(e), e.id) for e in entries])

    async def get(self, account: str) -> Account | None:
        doc = await self.collection.find_one({"_id": account})
        return None if doc is None else _account(doc)

    async def in_department(self, department_id: str) -> list[Account]:
        docs = self.collection.find({"department_id": department_id})
        return sorted([_account(d) async for d in docs], key=lambda a: a.account)

    async def balances(self) -> dict[str, int]:
        docs = self.collection.find({}, projection={"balance": 1}).sort("_id", 1)
        return {d["_id"]: d.get("balance", 0) async for d in docs}

    async def hold(self, account: str, hold_id: str, amount: int) -> bool:
        result = await self.collection.update_one(
            {
                "_id": account,
                "available": {"$gte": amount},
                "holds": {"$ne": hold_id},
                "spent_holds": {"$ne": hold_id},
            },
            {"$inc": {"available": -amount, "reserved": amount}, "$push": {"holds": hold_id}},
        )
        if result.modified_count:
            return True
        doc = await self.collection.find_one(
            {"_id": account}, projection={"holds": 1, "spent_holds": 1}
        )
        return doc is not None and (
            hold_id in doc.get("holds", []) or hold_id in doc.get("spent_holds", [])
        )

    async def release(self, account: str, hold_id: str, amount: int) -> None:
        await self.collection.update_one(
            {"_id": account, "holds": hold_id},
            {"$inc": {"available": amount, "reserved": -amount}, "$pull": {"holds": hold_id}},
        )
