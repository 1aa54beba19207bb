"""GraphQL types served from the incentives service."""

from __future__ import annotations

from datetime import datetime

import strawberry

from icr.gateway.clients import Json


@strawberry.type
class RequestIncentives:
    """Where the request stands for the incentives service and the points it earned."""

    request_id: strawberry.ID
    status: str
    tracked_since: datetime | None
    settlement: str = strawberry.field(
        description="open, awaiting_rating (resolved, the rating not in yet) or settled."
    )
    points: int = strawberry.field(description="Points its resolution and rating earned, net.")
    awarded: int
    revoked: int = strawberry.field(description="Taken back (reopened, recovery); negative.")

    @classmethod
    def from_json(cls, row: Json) -> RequestIncentives:
        since = row.get("submitted_at")
        return cls(
            request_id=strawberry.ID(row["request_id"]),
            status=row["status"],
            tracked_since=datetime.fromisoformat(since) if since else None,
            settlement=row.get("settlement", "open"),
            points=row.get("points", 0),
            awarded=row.get("awarded", 0),
            revoked=row.get("revoked", 0),
        )
