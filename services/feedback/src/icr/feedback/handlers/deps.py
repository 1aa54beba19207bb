"""What use cases depend on, bundled so routes, consumers, timers and tests hand them over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from icr.feedback.domain.policy import FeedbackPolicy
from icr.feedback.handlers.ports import (
    CampaignRepository,
    CapCounter,
    Directory,
    MatrixRepository,
    RatingRepository,
    ScoreRepository,
    ServedRepository,
)
from icr.feedback.settings import FeedbackSettings
from icr.feedback.store import (
    CampaignStore,
    CapStore,
    MatrixStore,
    RatingStore,
    ScoreStore,
    ServedStore,
)
from icr.kit.clock import Clock, system_clock
from icr.kit.directory import DirectoryView
from icr.kit.lease import ServerClock
from icr.kit.mongo import Mongo
from icr.kit.outbox import Outbox
from icr.kit.retry import on_concurrent_update

T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    ratings: RatingRepository
    caps: CapCounter
    served: ServedRepository
    campaigns: CampaignRepository
    scores: ScoreRepository
    matrix: MatrixRepository
    directory: Directory
    settings: FeedbackSettings
    clock: Clock = system_clock
    store_clock: ServerClock | None = None

    @cached_property
    def policy(self) -> FeedbackPolicy:
        return self.settings.policy

    @classmethod
    def build(
        cls,
        mongo: Mongo,
        outbox: Outbox,
        settings: FeedbackSettings,
        clock: Clock = system_clock,
        *,
        store_clock: ServerClock | None = None,
    ) -> Deps:
        return cls(
            ratings=RatingStore(mongo, outbox),
            caps=CapStore(mongo),
            served=ServedStore(mongo),
            campaigns=CampaignStore(mongo, outbox),
            scores=ScoreStore(mongo, outbox),
            matrix=MatrixStore(mongo),
            directory=DirectoryView(mongo),
            settings=settings,
            clock=clock,
            store_clock=store_clock,
        )


async def retrying(deps: Deps, attempt: Callable[[], Awaitable[T]]) -> T:
    """Runs a read-decide-write `attempt` again when another writer won the race."""
    return await on_concurrent_update(attempt, tries=deps.settings.write_retries)
