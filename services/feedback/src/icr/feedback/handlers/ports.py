"""What the use cases need from storage, as Protocols (ports).

The Mongo stores in `icr.feedback.store` satisfy them; `icr.feedback.testing` has in-memory
fakes for the fast tier. Every implementation writes a state change and its events in one
atomic step, and raises `ConcurrentUpdate` on a stale version.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from icr.contracts.feedback import EvaluationSubmitted
from icr.feedback.domain.campaign import Answer, Campaign
from icr.feedback.domain.matrix import OpenRequests, Pair, PairCounts
from icr.feedback.domain.rating import Rating
from icr.feedback.store import Level, StoredCell, TrackedRequest, Versioned
from icr.kit.directory import KnownDepartment, KnownPerson
from icr.kit.periods import PeriodKind


class RatingRepository(Protocol):
    async def get(self, request_id: str) -> Versioned[Rating] | None: ...
    async def add(self, rating: Rating) -> None: ...
    async def save(self, rating: Versioned[Rating]) -> None: ...
    async def by_request_ids(self, request_ids: Sequence[str]) -> list[Rating]: ...
    async def by_rater(self, person_id: str, limit: int) -> list[Rating]: ...
    async def by_provider(self, department_id: str, limit: int) -> list[Rating]: ...
    async def by_recovery_request(self, recovery_request_id: str) -> Versioned[Rating] | None: ...


class CapCounter(Protocol):
    async def take(self, person_id: str, period_key: str, request_id: str, cap: int) -> bool: ...


class ServedRepository(Protocol):
    async def record(
        self,
        *,
        request_id: str,
        requester_id: str,
        requester_department_id: str,
        provider_department_id: str,
        resolved_at: datetime,
    ) -> None: ...
    async def was_served(
        self, person_id: str, provider_department_id: str, start: datetime, end: datetime
    ) -> str | None: ...
    async def providers_for(self, person_id: str, start: datetime, end: datetime) -> list[str]: ...
    async def served_in(self, start: datetime, end: datetime) -> dict[str, list[str]]: ...


class CampaignRepository(Protocol):
    async def add(self, campaign: Campaign) -> None: ...
    async def get(self, campaign_id: str) -> Versioned[Campaign] | None: ...
    async def save(self, campaign: Versioned[Campaign]) -> None: ...
    async def recent(self, limit: int) -> list[Campaign]: ...
    async def add_answer(self, key: str, answer: Answer, event: EvaluationSubmitted) -> None: ...
    async def answers(self, campaign_id: str, department_id: str | None = None) -> list[Answer]: ...


class ScoreRepository(Protocol):
    async def add(
        self,
        *,
        event_id: str,
        at: datetime,
        provider: str,
        consumer: str,
        inc: dict[str, int],
        add_to_set: dict[str, str] | None = None,
        publish_at: datetime | None = None,
    ) -> None: ...
    async def cell(self, sid: str) -> Versioned[StoredCell] | None: ...
    async def cells(
        self, kind: PeriodKind, key: str, level: Level, provider: str | None = None
    ) -> list[StoredCell]: ...
    async def publish(self, cell: Versioned[StoredCell], events: list[object]) -> None: ...


class MatrixRepository(Protocol):
    async def count(
        self, *, event_id: str, at: datetime, provider: str, consumer: str, inc: dict[str, int]
    ) -> None: ...
    async def request(self, request_id: str) -> TrackedRequest | None: ...
    async def track(
        self,
        request_id: str,
        *,
        sequence: int,
        provider: str,
        consumer: str,
        open_since: datetime | None,
        resolution: tuple[int, datetime] | None = None,
    ) -> None: ...
    async def counts(self, kind: PeriodKind, key: str) -> dict[Pair, PairCounts]: ...
    async def open_now(self) -> dict[Pair, OpenRequests]: ...


class Directory(Protocol):
    """The service's own view of people and departments (`icr.kit.directory.DirectoryView`)."""

    async def person(self, person_id: str) -> KnownPerson | None: ...
    async def department(self, department_id: str) -> KnownDepartment | None: ...
