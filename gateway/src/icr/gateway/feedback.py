"""GraphQL types served from the feedback service."""

from __future__ import annotations

from datetime import datetime

import strawberry

from icr.gateway.clients import Json


@strawberry.type
class Rating:
    """The requester's rating of a resolved request: `invited` until given, then `rated`;
    `expired` when the invitation ran out, `skipped` when none was sent (see the feedback
    service's README)."""

    request_id: strawberry.ID
    rater_id: strawberry.ID
    status: str
    requested_at: datetime
    stars: int | None = None

    @classmethod
    def from_json(cls, row: Json) -> Rating:
        return cls(
            request_id=strawberry.ID(row["request_id"]),
            rater_id=strawberry.ID(row["rater_id"]),
            status=row["status"],
            requested_at=datetime.fromisoformat(row["requested_at"]),
            stars=row.get("stars"),
        )
