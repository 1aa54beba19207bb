"""The import journal: a directory import is recorded whole before any row is applied.

MongoDB without transactions cannot apply many documents atomically. So the accepted file is
written first, in one document, with a resume time; the rows are then applied as idempotent
upserts, and the journal entry is marked done. If the process dies in between, the scheduler
finds the entry when its resume time passes and applies the same file again, so an import is
never left half-applied for good.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bson import Binary

from icr.kit.lease import CLOCK_COLLECTION, Lease, ServerClock
from icr.kit.mongo import Document, Mongo
from icr.kit.scheduler import due_index, due_lease, release_due_lease

log = logging.getLogger(__name__)
T = TypeVar("T")

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
    def __init__(
        self, mongo: Mongo, *, lease_seconds: float = 5.0, clock: ServerClock | None = None
    ) -> None:
        self.collection = mongo.collection(IMPORTS)
        self.lease_seconds = lease_seconds
        self.clock = clock or ServerClock(mongo.collection(CLOCK_COLLECTION))
        self._leases: dict[str, Lease] = {}

    async def begin(
        self,
        import_id: str,
        *,
        body: bytes,
        content_type: str,
        actor_id: str,
        at: datetime,
        resume_at: datetime,
    ) -> None:
        """Journals the import, leased to this process (which applies it itself, see `applying`)."""
        lease, fields = await due_lease(
            self.collection,
            RESUME_DUE,
            key=import_id,
            owner=f"import-{import_id}",
            lease_seconds=self.lease_seconds,
            clock=self.clock,
        )
        self._leases[import_id] = lease
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
                **fields,
            }
        )

    async def applying(self, import_id: str, work: Callable[[], Awaitable[T]]) -> T:
        """Runs `work` (apply the rows, then `finish`) while renewing the entry's lease, so the
        scheduler does not resume an import its writer is still applying, however long that
        takes; the lease is freed afterwards, also when `work` fails (the scheduler then resumes
        the import once its resume time passes). Raises `LeaseLost` if the lease was lost."""
        lease = self._leases.pop(import_id)
        try:
            return await lease.hold(work)
        finally:
            try:
                await release_due_lease(self.collection, RESUME_DUE, lease)
            except Exception:
                log.warning("import lease not freed; it runs out", exc_info=True)

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
