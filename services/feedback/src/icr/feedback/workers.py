"""The service's durable timers: rating reminders and expiries, and score update events."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime

from icr.feedback.consumers import deps_of
from icr.feedback.handlers.deps import Deps
from icr.feedback.handlers.invitations import remind_or_expire_when_due
from icr.feedback.handlers.scores import publish_score_when_due
from icr.feedback.store import RatingStore, ScoreStore
from icr.feedback.store.ratings import DUE
from icr.feedback.store.scores import PUBLISH_DUE
from icr.kit.clock import Clock
from icr.kit.scheduler import DueWork
from icr.kit.service import Runtime, Worker


def timers(deps: Deps, *, owner: str | None = None) -> list[DueWork]:
    """Both timers (Mongo stores only: `DueWork` scans their collections)."""
    assert isinstance(deps.ratings, RatingStore)
    assert isinstance(deps.scores, ScoreStore)
    owner = owner or f"feedback-{secrets.token_hex(4)}"

    async def on_rating(request_id: str, now: datetime) -> None:
        await remind_or_expire_when_due(request_id, now, deps=deps)

    async def on_score(sid: str, now: datetime) -> None:
        await publish_score_when_due(sid, now, deps=deps)

    return [
        DueWork(
            collection,
            due_field=due,
            handler=handler,
            owner=owner,
            lease_seconds=deps.settings.timer_lease_seconds,
            poll_seconds=deps.settings.timer_poll_seconds,
            clock=deps.clock,
            lease_clock=deps.store_clock,
        )
        for collection, due, handler in (
            (deps.ratings.collection, DUE, on_rating),
            (deps.scores.collection, PUBLISH_DUE, on_score),
        )
    ]


def timer_worker(clock: Clock) -> Worker:
    async def feedback_timers(runtime: Runtime) -> None:
        await asyncio.gather(*(t.run() for t in timers(deps_of(runtime, clock))))

    return feedback_timers
