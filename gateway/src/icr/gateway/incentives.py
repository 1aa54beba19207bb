"""GraphQL types served from the incentives service."""

from __future__ import annotations

from datetime import datetime

import strawberry

from icr.gateway.clients import Json


@strawberry.type
class RequestIncentives:
    """What the incentives service knows of a request (points will be earned from it)."""

    request_id: strawberry.ID
    status: str
    tracked_since: datetime

    @classmethod
    def from_json(cls, row: Json) -> RequestIncentives:
        return cls(
            request_id=strawberry.ID(row["request_id"]),
            status=row["status"],
            tracked_since=datetime.fromisoformat(row["submitted_at"]),
        )
