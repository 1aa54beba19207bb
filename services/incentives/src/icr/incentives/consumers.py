"""Reactions of the incentives service to requests, feedback and its own recognition events."""

from __future__ import annotations

import asyncio

from icr.contracts import Envelope
from icr.contracts.feedback import (
    RatingExpired,
    RatingSkipped,
    RatingSubmitted,
    RecoveryNeeded,
)
from icr.contracts.incentives import RecognitionGiven
from icr.contracts.requests import (
    RequestCancelled,
    RequestClosed,
    RequestRejected,
    RequestReopened,
    RequestResolved,
    RequestSubmitted,
)
from icr.incentives.domain.settlement import RatingOutcome
from icr.incentives.handlers import awards
from icr.incentives.handlers.deps import Deps
from icr.incentives.handlers.recognition import credit_recognition_when_given
from icr.incentives.wiring import deps_of, directory_of
from icr.kit.consumer import ConsumerRunner, Subscription
from icr.kit.directory import follow_directory
from icr.kit.inbox import INBOX_COLLECTION, Inbox
from icr.kit.service import Runtime

GROUP = "icr.incentives"


def subscription(runtime: Runtime) -> Subscription:
    sub = Subscription(group=GROUP)
    follow_directory(sub, directory_of(runtime))
    react(sub, deps_of(runtime))
    return sub


async def more_members(runtime: Runtime) -> None:
    """Members 2..CONSUMER_MEMBERS of the service's group, in this process: like replicas,
    Kafka shares the partitions among them, and each handles its own polls (one lane per request,
    `consumer_concurrency`); all share the stores, whose coalescers merge their calls too. They
    join `runtime.consumers`, so readiness watches them and shutdown stops them gracefully."""
    settings = runtime.settings
    members = getattr(settings, "consumer_members", 1)
    if members <= 1 or runtime.producer is None:
        return
    runners = []
    for _ in range(members - 1):
        sub = subscription(runtime)
        inbox = Inbox(runtime.mongo.collection(INBOX_COLLECTION), settings.topic_name(sub.group))
        runner = ConsumerRunner(settings, sub, inbox, runtime.producer)
        runtime.consumers.append(runner)
        runners.append(runner)
    async with asyncio.TaskGroup() as group:
        for runner in runners:
            group.create_task(runner.run())


def react(sub: Subscription, deps: Deps) -> None:
    """The handlers, on any Deps (the fast tier hands fakes)."""

    @sub.on(RequestSubmitted)
    async def track_request_when_submitted(event: RequestSubmitted, envelope: Envelope) -> None:
        await awards.track_request_when_submitted(event, deps=deps)

    @sub.on(RequestResolved)
    async def settle_points_when_resolved(event: RequestResolved, envelope: Envelope) -> None:
        await awards.settle_when_resolved(event, envelope.event_id, deps=deps)

    @sub.on(RequestReopened)
    async def claw_back_points_when_reopened(event: RequestReopened, envelope: Envelope) -> None:
        await awards.claw_back_when_reopened(event, envelope.event_id, deps=deps)

    @sub.on(RequestClosed)
    async def note_closed(event: RequestClosed, envelope: Envelope) -> None:
        await awards.note_status(event.request_id, "closed", deps=deps)

    @sub.on(RequestCancelled)
    async def note_cancelled(event: RequestCancelled, envelope: Envelope) -> None:
        await awards.note_status(event.request_id, "cancelled", deps=deps)

    @sub.on(RequestRejected)
    async def note_rejected(event: RequestRejected, envelope: Envelope) -> None:
        await awards.note_status(event.request_id, "rejected", deps=deps)

    @sub.on(RatingSubmitted)
    async def settle_and_award_rater_when_rated(event: RatingSubmitted, envelope: Envelope) -> None:
        rating = awards.RatingGiven(
            request_id=event.request_id,
            rater_id=event.rater_id,
            rater_department_id=event.rater_department_id,
            provider_department_id=event.provider_department_id,
            assignee_id=event.assignee_id,
            event_id=envelope.event_id,
            at=event.submitted_at,
        )
        outcome = RatingOutcome("submitted", event.stars, envelope.event_id, event.submitted_at)
        # The rater's point and the round's awards (if this completes it) in one write.
        await awards.settle_when_rated(event.request_id, outcome, deps=deps, rating=rating)

    @sub.on(RatingExpired)
    async def settle_when_rating_expired(event: RatingExpired, envelope: Envelope) -> None:
        outcome = RatingOutcome("expired", None, envelope.event_id, event.expired_at)
        await awards.settle_when_rated(event.request_id, outcome, deps=deps)

    @sub.on(RatingSkipped)
    async def settle_when_rating_skipped(event: RatingSkipped, envelope: Envelope) -> None:
        outcome = RatingOutcome("skipped", None, envelope.event_id, event.skipped_at)
        await awards.settle_when_rated(event.request_id, outcome, deps=deps)

    @sub.on(RecoveryNeeded)
    async def withhold_points_when_recovery_needed(
        event: RecoveryNeeded, envelope: Envelope
    ) -> None:
        await awards.withhold_when_recovery_needed(event.request_id, envelope.event_id, deps=deps)

    @sub.on(RecognitionGiven)
    async def credit_recipient_when_recognised(event: RecognitionGiven, envelope: Envelope) -> None:
        await credit_recognition_when_given(event, envelope.event_id, deps=deps)
