"""The import journal: a directory import is recorded whole before any row is applied.

MongoDB without transactions cannot apply many documents atomically. So the accepted file is
written first, in one document, with a resume time; the rows are then applied as idempotent
upserts, and the journal entry is marked done. If the process dies in between, the scheduler
finds the entry when its resume time passes and applies the same file again, so an import is
never left half-applied for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary

from icr.kit.mongo import Document, Mongo
from icr.kit.scheduler import due_index

IMPORTS = "directory_imports"
RESUME_DUE = "resume_at"
INDEXES = {IMPORTS: [due_index(RESUME_DUE)]}


@dataclass(frozen=True)
class JournaledImport:
    id: str
    body: bytes
    content_type: str
    actor_id: str
    status: str


class ImportJournal:
    def __init__(self, mongo: Mongo) -> None:
        self.collection = mongo.collection(IMPORTS)

    async def begin(
        self,
        import_id: str,
        *,
        body: bytes,
        content_type: str,
        actor_id: str,
        at: datetime,
        resume_at: datetime,
        lease: Document | None = None,
    ) -> None:
        """`lease`: the scheduler's lease fields, when the writer applies the import itself."""
        await self.collection.insert_one(
            {
                "_id": import_id,
                # The file as received, not parsed rows: rows may carry keys MongoDB refuses.
                "body": Binary(body),
                "content_type": content_type,
                "actor_id": actor_id,
                "status": "applying",
                "started_at": at,
                RESUME_DUE: resume_at,
                **(lease or {}),
            }
        )

    async def get(self, import_id: str) -> JournaledImport | None:
        doc = await self.collection.find_one({"_id": import_id})
        return None if doc is None else _from_doc(doc)

    async def finish(
        self, import_id: str, *, status: str, at: datetime, summary: dict[str, Any]
    ) -> None:
        """Done (applied, or rejected on resume); the file is dropped, the summary kept."""
        await self.collection.update_one(
            {"_id": import_id},
            {
                "$set": {"status": status, "finished_at": at, "summary": summary, RESUME_DUE: None},
                "$unset": {"body": ""},
            },
        )


def _from_doc(doc: Document) -> JournaledImport:
    return JournaledImport(
        id=doc["_id"],
        body=bytes(doc.get("body") or b""),
        content_type=doc["content_type"],
        actor_id=doc["actor_id"],
        status=doc["status"],
    )
