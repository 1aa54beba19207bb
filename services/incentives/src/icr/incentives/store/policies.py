"""Points policy versions: one document per version (its `_id`), with its published event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.contracts.incentives import PolicyPublished
from icr.incentives.domain.errors import Conflict
from icr.incentives.domain.policy import (
    DEFAULT_POLICY,
    Conditions,
    Payee,
    Policy,
    RecognitionTerms,
    Rule,
    Trigger,
)
from icr.kit.coalesce import Coalescer
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import Outbox

POLICIES = "policies"
POLICY_INDEXES = [
    IndexModel([("effective_from", DESCENDING), ("_id", DESCENDING)], name="in_effect")
]


def policy_to_doc(p: Policy) -> Document:
    return {
        "_id": p.version,
        "effective_from": p.effective_from,
        "rules": [
            {
                "id": r.id,
                "on": str(r.on),
                "pays": str(r.pays),
                "points": r.points,
                "when": vars(r.when),
            }
            for r in p.rules
        ],
        "recognition": {
            "allowance_by_role": p.recognition.allowance_by_role,
            "min_message_length": p.recognition.min_message_length,
            "values": list(p.recognition.values),
            "per_recipient_cap_per_month": p.recognition.per_recipient_cap_per_month,
        },
        "pair_cap_per_month": p.pair_cap_per_month,
        "published_by": p.published_by,
        "published_at": p.published_at,
        "notes": p.notes,
    }


def policy_from_doc(doc: Document) -> Policy:
    rec: dict[str, Any] = doc["recognition"]
    return Policy(
        version=doc["_id"],
        effective_from=doc["effective_from"],
        rules=tuple(
            Rule(r["id"], Trigger(r["on"]), Payee(r["pays"]), r["points"], Conditions(**r["when"]))
            for r in doc["rules"]
        ),
        recognition=RecognitionTerms(
            allowance_by_role=dict(rec["allowance_by_role"]),
            min_message_length=rec["min_message_length"],
            values=tuple(rec["values"]),
            per_recipient_cap_per_month=rec["per_recipient_cap_per_month"],
        ),
        pair_cap_per_month=doc.get("pair_cap_per_month"),
        published_by=doc.get("published_by", ""),
        published_at=doc.get("published_at"),
        notes=doc.get("notes", ""),
    )


class PolicyStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.collection = mongo.collection(POLICIES)
        self.outbox = outbox
        self._in_effect: Coalescer[list[datetime], list[Policy]] = Coalescer(self._in_effect_calls)

    async def in_effect(self, at: datetime) -> Policy:
        doc = await self.collection.find_one(
            {"effective_from": {"$lte": at}},
            sort=[("effective_from", DESCENDING), ("_id", DESCENDING)],
        )
        return DEFAULT_POLICY if doc is None else policy_from_doc(doc)

    async def in_effect_many(self, times: Sequence[datetime]) -> list[Policy]:
        """The version in effect at each of `times`, in one read (shared by the concurrent
        handlers asking at the same moment, `Coalescer`)."""
        return await self._in_effect(list(times)) if times else []

    async def _in_effect_calls(self, calls: Sequence[list[datetime]]) -> list[list[Policy]]:
        policies = iter(await self._in_effect_many([at for times in calls for at in times]))
        return [[next(policies) for _ in times] for times in calls]

    async def _in_effect_many(self, times: Sequence[datetime]) -> list[Policy]:
        """The versions from the latest of `times` backwards, until one is in effect at the
        earliest (usually the first)."""
        earliest, found = min(times), []
        docs = self.collection.find(
            {"effective_from": {"$lte": max(times)}},
            sort=[("effective_from", DESCENDING), ("_id", DESCENDING)],
        )
        async for doc in docs:
            found.append(policy_from_doc(doc))
            if doc["effective_from"] <= earliest:
                break
        return [_in_effect(found, at) for at in times]

    async def latest(self) -> Policy:
        doc = await self.collection.find_one({"_id": {"$gte": 1}}, sort=[("_id", DESCENDING)])
        return DEFAULT_POLICY if doc is None else policy_from_doc(doc)

    async def versions(self) -> list[Policy]:
        docs = self.collection.find({"_id": {"$gte": 1}}, sort=[("_id", DESCENDING)])
        return [policy_from_doc(d) async for d in docs] + [DEFAULT_POLICY]

    async def publish(self, policy: Policy) -> None:
        event = PolicyPublished(
            policy_id=str(policy.version),
            version=policy.version,
            effective_from=policy.effective_from,
            rule_ids=[r.id for r in policy.rules],
            published_by=policy.published_by,
            published_at=policy.published_at or policy.effective_from,
        )
        try:
            await self.outbox.insert(self.collection, policy_to_doc(policy), [event])
        except DuplicateKeyError:
            raise Conflict(f"policy version {policy.version} was published meanwhile") from None


def _in_effect(newest_first: list[Policy], at: datetime) -> Policy:
    return next((p for p in newest_first if p.effective_from <= at), DEFAULT_POLICY)
