"""Reactions of the incentives service to other services' events."""

from __future__ import annotations

from icr.contracts import Envelope
from icr.contracts.requests import RequestSubmitted
from icr.incentives.store import TrackedRequestStore
from icr.kit.consumer import Subscription
from icr.kit.service import Runtime


def subscription(runtime: Runtime) -> Subscription:
    store = TrackedRequestStore(runtime.mongo)
    sub = Subscription(group="icr.incentives")

    @sub.on(RequestSubmitted)
    async def track_request_when_submitted(event: RequestSubmitted, envelope: Envelope) -> None:
        await store.record_submitted(
            event_id=envelope.event_id,
            request_id=event.request_id,
            requester_id=event.requester_id,
            provider_department_id=event.provider_department_id,
            submitted_at=event.submitted_at,
        )

    return sub
