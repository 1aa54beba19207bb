"""Campaigns and their anonymous answers."""

from __future__ import annotations

import hashlib
import hmac

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from icr.contracts.feedback import EvaluationSubmitted, GroupResult, Question
from icr.feedback.domain.campaign import Answer, Campaign, CampaignStatus
from icr.feedback.domain.errors import Conflict
from icr.feedback.store.base import Versioned
from icr.kit import context
from icr.kit.mongo import Document, Mongo
from icr.kit.outbox import OUTBOX, Outbox

CAMPAIGNS = "campaigns"
EVALUATIONS = "evaluations"
INDEXES = {
    CAMPAIGNS: [IndexModel([("opened_at", DESCENDING)], name="by_opened")],
    EVALUATIONS: [
        IndexModel(
            [("campaign_id", ASCENDING), ("provider_department_id", ASCENDING)], name="by_campaign"
        )
    ],
}
_NO_OUTBOX = {OUTBOX: 0}


def answer_key(secret: str, campaign_id: str, department_id: str, person_id: str) -> str:
    """The answer's id: a keyed hash, so one person answers once per department without the
    answer naming them (and nobody without the service's key can test a guess)."""
    message = f"{campaign_id}|{department_id}|{person_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class CampaignStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.campaigns = mongo.collection(CAMPAIGNS)
        self.evaluations = mongo.collection(EVALUATIONS)
        self.outbox = outbox

    async def add(self, campaign: Campaign) -> None:
        try:
            await self.outbox.insert(self.campaigns, _to_doc(campaign), campaign.pull_events())
        except DuplicateKeyError:
            raise Conflict(f"campaign {campaign.campaign_id} exists already") from None

    async def get(self, campaign_id: str) -> Versioned[Campaign] | None:
        doc = await self.campaigns.find_one({"_id": campaign_id}, projection=_NO_OUTBOX)
        return None if doc is None else Versioned(_from_doc(doc), doc["version"])

    async def save(self, campaign: Versioned[Campaign]) -> None:
        doc = _to_doc(campaign.value)
        del doc["_id"]
        await self.outbox.update(
            self.campaigns,
            campaign.value.campaign_id,
            campaign.version,
            doc,
            campaign.value.pull_events(),
        )

    async def recent(self, limit: int) -> list[Campaign]:
        docs = await self.campaigns.find(
            {}, projection=_NO_OUTBOX, sort=[("opened_at", DESCENDING)], limit=limit
        ).to_list()
        return [_from_doc(d) for d in docs]

    async def add_answer(self, key: str, answer: Answer, event: EvaluationSubmitted) -> None:
        """Conflict when this person answered about this department already."""
        doc = {
            "_id": key,
            "campaign_id": answer.campaign_id,
            "provider_department_id": answer.provider_department_id,
            "respondent_department_id": answer.respondent_department_id,
            "scores": answer.scores,
            "texts": answer.texts,
            "submitted_at": answer.submitted_at,
        }
        try:
            # A trace of its own, with no correlation or causation id: the call's ids are on
            # the caller's other events too (a rating names its rater), and matching them would
            # put a name on the answer.
            with context.causation(context.new_causation()):
                await self.outbox.insert(self.evaluations, doc, [event])
        except DuplicateKeyError:
            raise Conflict("you answered about this department already") from None

    async def answers(self, campaign_id: str, department_id: str | None = None) -> list[Answer]:
        query: Document = {"campaign_id": campaign_id}
        if department_id is not None:
            query["provider_department_id"] = department_id
        docs = await self.evaluations.find(query, projection=_NO_OUTBOX).to_list()
        return [
            Answer(
                campaign_id=d["campaign_id"],
                provider_department_id=d["provider_department_id"],
                respondent_department_id=d["respondent_department_id"],
                scores=dict(d["scores"]),
                texts=dict(d["texts"]),
                submitted_at=d["submitted_at"],
            )
            for d in docs
        ]


def _to_doc(c: Campaign) -> Document:
    return {
        "_id": c.campaign_id,
        "name": c.name,
        "period_start": c.period_start,
        "period_end": c.period_end,
        "questions": [q.model_dump() for q in c.questions],
        "threshold": c.threshold,
        "opened_by": c.opened_by,
        "opened_at": c.opened_at,
        "status": c.status.value,
        "closed_at": c.closed_at,
        "results": [r.model_dump() for r in c.results],
    }


def _from_doc(d: Document) -> Campaign:
    return Campaign(
        campaign_id=d["_id"],
        name=d["name"],
        period_start=d["period_start"],
        period_end=d["period_end"],
        questions=[Question.model_validate(q) for q in d["questions"]],
        threshold=d["threshold"],
        opened_by=d["opened_by"],
        opened_at=d["opened_at"],
        status=CampaignStatus(d["status"]),
        closed_at=d.get("closed_at"),
        results=[GroupResult.model_validate(r) for r in d.get("results") or []],
    )
