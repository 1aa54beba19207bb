"""Who was served by whom when: one entry per resolved request, from the requests service's
events. Campaign invitees are read from here."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, IndexModel

from icr.kit.mongo import Mongo

SERVED = "served"
INDEXES = {
    SERVED: [
        IndexModel([("resolved_at", ASCENDING)], name="by_time"),
        IndexModel(
            [
                ("requester_id", ASCENDING),
                ("provider_department_id", ASCENDING),
                ("resolved_at", ASCENDING),
            ],
            name="by_person",
        ),
    ]
}


class ServedStore:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(SERVED)

    async def record(
        self,
        *,
        request_id: str,
        requester_id: str,
        requester_department_id: str,
        provider_department_id: str,
        resolved_at: datetime,
    ) -> None:
        """The latest resolution of a request; a replace, so a redelivery changes nothing."""
        await self.collection.replace_one(
            {"_id": request_id},
            {
                "requester_id": requester_id,
                "requester_department_id": requester_department_id,
                "provider_department_id": provider_department_id,
                "resolved_at": resolved_at,
            },
            upsert=True,
        )

    async def was_served(
        self, person_id: str, provider_department_id: str, start: datetime, end: datetime
    ) -> str | None:
        """The person's department at the time if `provider` served them in [start, end)."""
        doc = await self.collection.find_one(
            {
                "requester_id": person_id,
                "provider_department_id": provider_department_id,
                "resolved_at": {"$gte": start, "$lt": end},
            }
        )
        return None if doc is None else str(doc["requester_department_id"])

    async def providers_for(self, person_id: str, start: datetime, end: datetime) -> list[str]:
        docs = await self.collection.find(
            {"requester_id": person_id, "resolved_at": {"$gte": start, "$lt": end}},
            projection={"provider_department_id": 1},
        ).to_list()
        return sorted({d["provider_department_id"] for d in docs})

    async def served_in(self, start: datetime, end: datetime) -> dict[str, list[str]]:
        """Provider department -> the people it served in [start, end), sorted."""
        out: dict[str, set[str]] = {}
        async for doc in self.collection.find(
            {"resolved_at": {"$gte": start, "$lt": end}},
            projection={"requester_id": 1, "provider_department_id": 1},
        ):
            out.setdefault(doc["provider_department_id"], set()).add(doc["requester_id"])
        return {dept: sorted(people) for dept, people in sorted(out.items())}
