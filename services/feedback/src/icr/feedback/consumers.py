"""Reactions of the feedback service to other services' events."""

from __future__ import annotations

from icr.contracts import Envelope
from icr.contracts.requests import RequestSubmitted
from icr.feedback.domain import Rating
from icr.feedback.store import RatingStore
from icr.kit.consumer import Subscription
from icr.kit.service import Runtime


def subscription(runtime: Runtime) -> Subscription:
    store = RatingStore(runtime.mongo, runtime.outbox)
    sub = Subscription(group="icr.feedback")

    @sub.on(RequestSubmitted)
    async def record_pending_rating_when_request_submitted(
        event: RequestSubmitted, envelope: Envelope
    ) -> None:
        # The rating's id is the request's, so a redelivered event finds it already there.
        await store.add(
            Rating.request(
                request_id=event.request_id,
                rater_id=event.requester_id,
                provider_department_id=event.provider_department_id,
                at=envelope.time,
            )
        )

    return sub
