"""Test helpers for the feedback service: builders of the requests service's events and in-memory
fakes of the stores for the fast tier (no Kafka, no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from icr.contracts import Envelope
from icr.contracts.requests import DepartmentUpserted, PersonUpserted, RequestResolved

T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def person(person_id: str, department_id: str, *roles: str, seq: int = 1) -> Envelope:
    return Envelope.wrap(
        PersonUpserted(
            person_id=person_id,
            name=person_id.title(),
            department_id=department_id,
            roles=list(roles or ("employee",)),
            upserted_at=T0,
        ),
        source="requests",
        sequence=seq,
    )


def department(department_id: str, manager_id: str | None = None) -> Envelope:
    return Envelope.wrap(
        DepartmentUpserted(
            department_id=department_id,
            name={"en": department_id},
            manager_id=manager_id,
            upserted_at=T0,
        ),
        source="requests",
        sequence=1,
    )


def resolved(
    request_id: str,
    *,
    requester: str = "ana",
    requester_department: str = "sales",
    provider: str = "it",
    at: datetime = T0,
    reopen_count: int = 0,
    seq: int | None = None,
    **changes: Any,
) -> Envelope:
    event = RequestResolved(
        request_id=request_id,
        resolved_by="bo",
        resolved_at=at,
        note="done",
        assignee_id="bo",
        provider_department_id=provider,
        requester_id=requester,
        requester_department_id=requester_department,
        first_response_met=True,
        resolution_met=True,
        first_response_seconds=60,
        resolution_seconds=600,
        reopen_count=reopen_count,
        **changes,
    )
    return Envelope.wrap(event, source="requests", sequence=seq)
