"""Example events, for tests and for the examples in published event docs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from icr.contracts.base import Envelope
from icr.contracts.requests import RequestSubmitted


def request_submitted(request_id: str = "req-1", **changes: Any) -> Envelope:
    """Ana (Sales) asks IT for a new laptop: the domain brief's first step, as an envelope."""
    fields: dict[str, Any] = {
        "request_id": request_id,
        "title": "New laptop",
        "catalog_item_id": "laptop",
        "catalog_item_version": 1,
        "requester_id": "ana",
        "requester_department_id": "sales",
        "provider_department_id": "it",
        "priority": "medium",
        "submitted_at": datetime.now(UTC),
        **changes,
    }
    return Envelope.wrap(RequestSubmitted(**fields), source="requests")
