"""The score projection: counts per period, per department, per department pair and for the
whole organisation, built from rating and evaluation events (and rebuilt by replaying them).

Each event adds to the cells of its period of every kind (week, month, quarter) with
`apply_once`, so a redelivery adds nothing; a department or pair cell that changed is due for a
`DepartmentScoreUpdated` event (`publish_at`), which a durable timer writes to the cell's own
outbox a moment later, so a burst of ratings yields one event per cell, not one per rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pymongo import ASCENDING, IndexModel

from icr.feedback.domain.scores import Cell
from icr.feedback.store.base import Versioned
from icr.kit.mongo import Document, Mongo, apply_once
from icr.kit.outbox import OUTBOX, PENDING, SEQ, Outbox
from icr.kit.periods import PeriodKind, bounds, keys_of
from icr.kit.scheduler import due_index

SCORES = "scores"
PUBLISH_DUE = "publish_at"
ORG = "*"
INDEXES = {
    SCORES: [
        IndexModel(
            [
                ("period", ASCENDING),
                ("period_key", ASCENDING),
                ("level", ASCENDING),
                ("provider_department_id", ASCENDING),
            ],
            name="by_period",
        ),
        due_index(PUBLISH_DUE),
    ]
}


class Level(StrEnum):
    DEPARTMENT = "department"
    PAIR = "pair"
    ORGANISATION = "organisation"


def score_id(kind: PeriodKind | str, key: str, provider: str, consumer: str | None) -> str:
    return f"{kind}|{key}|{provider}|{consumer or ORG}"


@dataclass(frozen=True)
class StoredCell:
    score_id: str
    period: str
    period_key: str
    level: Level
    provider_department_id: str
    consumer_department_id: str | None
    cell: Cell


class ScoreStore:
    def __init__(self, mongo: Mongo, outbox: Outbox) -> None:
        self.collection = mongo.collection(SCORES)
        self.outbox = outbox

    async def add(
        self,
        *,
        event_id: str,
        at: datetime,
        provider: str,
        consumer: str,
        inc: dict[str, int],
        add_to_set: dict[str, str] | None = None,
        publish_at: datetime | None = None,
    ) -> None:
        """Adds `inc` to the department's, the pair's and the organisation's cell of every
        period containing `at`, once per event."""
        for kind, key in keys_of(at).items():
            start, _ = bounds(kind, key)
            targets = (
                (Level.DEPARTMENT, provider, None),
                (Level.PAIR, provider, consumer),
                (Level.ORGANISATION, ORG, None),
            )
            for level, prov, cons in targets:
                update: Document = {
                    "$inc": {**inc, "version": 1},
                    "$setOnInsert": {
                        "period": kind.value,
                        "period_key": key,
                        "period_start": start,
                        "level": level.value,
                        "provider_department_id": prov,
                        "consumer_department_id": cons,
                        PENDING: False,
                        SEQ: 0,
                    },
                }
                if add_to_set:
                    update["$addToSet"] = add_to_set
                if publish_at is not None and level is not Level.ORGANISATION:
                    update["$min"] = {PUBLISH_DUE: publish_at}
                await apply_once(
                    self.collection, score_id(kind, key, prov, cons), update, event_id=event_id
                )

    async def cell(self, sid: str) -> Versioned[StoredCell] | None:
        doc = await self.collection.find_one({"_id": sid}, projection=_READ)
        return None if doc is None else Versioned(_cell(doc), doc["version"])

    async def cells(
        self, kind: PeriodKind, key: str, level: Level, provider: str | None = None
    ) -> list[StoredCell]:
        query: Document = {"period": kind.value, "period_key": key, "level": level.value}
        if provider is not None:
            query["provider_department_id"] = provider
        docs = await self.collection.find(
            query, projection=_READ, sort=[("provider_department_id", ASCENDING)]
        ).to_list()
        return [_cell(d) for d in docs]

    async def publish(self, cell: Versioned[StoredCell], events: list[object]) -> None:
        """Writes the cell's update event and clears its due time, unless the cell changed since
        it was read (then it stays due and the timer tries again)."""
        await self.outbox.update(
            self.collection,
            cell.value.score_id,
            cell.version,
            {},
            events,  # type: ignore[arg-type]
            extra={"$unset": {PUBLISH_DUE: ""}},
        )


_READ = {OUTBOX: 0, "applied_events": 0}


def _cell(doc: Document) -> StoredCell:
    return StoredCell(
        score_id=doc["_id"],
        period=doc["period"],
        period_key=doc["period_key"],
        level=Level(doc["level"]),
        provider_department_id=doc["provider_department_id"],
        consumer_department_id=doc.get("consumer_department_id"),
        cell=Cell(
            invitations=int(doc.get("invitations", 0)),
            ratings=int(doc.get("ratings", 0)),
            stars_sum=int(doc.get("stars_sum", 0)),
            distribution={k: int(v) for k, v in (doc.get("dist") or {}).items()},
            distinct_raters=len(doc.get("raters") or []),
            nps_respondents=int(doc.get("nps_respondents", 0)),
            promoters=int(doc.get("promoters", 0)),
            detractors=int(doc.get("detractors", 0)),
        ),
    )
