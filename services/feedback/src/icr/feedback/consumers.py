"""Reactions of the feedback service to events: the requests service's (directory,
resolutions, the department matrix) and its own (the score projection is built from the
published rating and evaluation events, so replaying the topics rebuilds it)."""

from __future__ import annotations

from collections.abc import Callable

from icr.contracts import Envelope, Event
from icr.contracts.feedback import (
    EvaluationSubmitted,
    RatingChanged,
    RatingRequested,
    RatingSubmitted,
)
from icr.contracts.requests import (
    RequestCancelled,
    RequestClosed,
    RequestRejected,
    RequestReopened,
    RequestResolved,
    RequestSubmitted,
)
from icr.feedback.domain.rating import Resolution
from icr.feedback.handlers import matrix, scores
from icr.feedback.handlers.deps import Deps
from icr.feedback.handlers.invitations import invite_when_request_resolved, link_recovery_outcome
from icr.feedback.settings import FeedbackSettings
from icr.kit.clock import Clock
from icr.kit.consumer import Subscription
from icr.kit.directory import DirectoryView, follow_directory
from icr.kit.service import Runtime

GROUP = "icr.feedback"
SCORES_GROUP = "icr.feedback.scores"
MATRIX_GROUP = "icr.feedback.matrix"
MATRIX_EVENTS = (
    RequestSubmitted,
    RequestResolved,
    RequestReopened,
    RequestClosed,
    RequestCancelled,
    RequestRejected,
)


def deps_of(runtime: Runtime, clock: Clock) -> Deps:
    settings = runtime.settings
    assert isinstance(settings, FeedbackSettings)
    return Deps.build(
        runtime.mongo, runtime.outbox, settings, clock, store_clock=runtime.store_clock
    )


def resolution_of(event: RequestResolved) -> Resolution:
    return Resolution(
        request_id=event.request_id,
        resolution=event.reopen_count + 1,
        requester_id=event.requester_id,
        requester_department_id=event.requester_department_id,
        provider_department_id=event.provider_department_id,
        assignee_id=event.assignee_id,
        resolved_at=event.resolved_at,
    )


def requests_subscription(clock: Clock) -> Callable[[Runtime], Subscription]:
    def build(runtime: Runtime) -> Subscription:
        deps = deps_of(runtime, clock)
        sub = Subscription(group=GROUP)
        follow_directory(sub, DirectoryView(runtime.mongo))

        @sub.on(RequestResolved)
        async def invite_requester_when_request_resolved(
            event: RequestResolved, envelope: Envelope
        ) -> None:
            # A recovery request we caused closes the loop instead of asking for a rating.
            if await link_recovery_outcome(
                event.request_id, by=event.resolved_by, at=event.resolved_at, deps=deps
            ):
                return
            await invite_when_request_resolved(resolution_of(event), deps=deps)

        return sub

    return build


def scores_subscription(clock: Clock) -> Callable[[Runtime], Subscription]:
    def build(runtime: Runtime) -> Subscription:
        deps = deps_of(runtime, clock)
        sub = Subscription(group=SCORES_GROUP)

        @sub.on(RatingRequested)
        async def count_invitation(event: RatingRequested, envelope: Envelope) -> None:
            await scores.project_rating_requested(event, envelope.event_id, deps=deps)

        @sub.on(RatingSubmitted)
        async def count_rating(event: RatingSubmitted, envelope: Envelope) -> None:
            await scores.project_rating_submitted(event, envelope.event_id, deps=deps)

        @sub.on(RatingChanged)
        async def count_change(event: RatingChanged, envelope: Envelope) -> None:
            await scores.project_rating_changed(event, envelope.event_id, deps=deps)

        @sub.on(EvaluationSubmitted)
        async def count_evaluation(event: EvaluationSubmitted, envelope: Envelope) -> None:
            await scores.project_evaluation(event, envelope.event_id, deps=deps)

        return sub

    return build


def matrix_subscription(clock: Clock) -> Callable[[Runtime], Subscription]:
    """The department matrix, a group of its own so it can be rebuilt alone (from offset 0)."""

    def build(runtime: Runtime) -> Subscription:
        deps = deps_of(runtime, clock)
        sub = Subscription(group=MATRIX_GROUP)

        async def count_request_event(event: Event, envelope: Envelope) -> None:
            assert isinstance(event, MATRIX_EVENTS)
            await matrix.project_request_event(event, envelope, deps=deps)

        for event_type in MATRIX_EVENTS:
            sub.on(event_type)(count_request_event)
        return sub

    return build
