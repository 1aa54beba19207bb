"""Test helpers for the feedback service: builders of the requests service's events and in-memory
fakes of the stores for the fast tier (no Kafka, no store)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from icr.contracts import Envelope, Event
from icr.contracts.feedback import EvaluationSubmitted
from icr.contracts.requests import DepartmentUpserted, PersonUpserted, RequestResolved
from icr.feedback.domain.campaign import Answer, Campaign
from icr.feedback.domain.errors import Conflict
from icr.feedback.domain.matrix import OpenRequests, Pair, PairCounts
from icr.feedback.domain.rating import Rating
from icr.feedback.domain.scores import Cell
from icr.feedback.handlers.deps import Deps
from icr.feedback.settings import FeedbackSettings
from icr.feedback.store import Level, StoredCell, TrackedRequest, Versioned, score_id
from icr.kit.clock import SettableClock
from icr.kit.directory import KnownDepartment, KnownPerson, Member
from icr.kit.outbox import ConcurrentUpdate
from icr.kit.periods import PeriodKind, keys_of

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


# --- in-memory fakes of the stores (the fast tier) ----------------------------------------------


@dataclass
class FakeOutbox:
    """What the stores recorded, in order: the events the relay would publish."""

    events: list[Event] = field(default_factory=list)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def types(self) -> list[str]:
        return [e.event_type for e in self.events]


class FakeRatings:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.docs: dict[str, tuple[Rating, int]] = {}
        self.outbox = outbox

    async def get(self, request_id: str) -> Versioned[Rating] | None:
        found = self.docs.get(request_id)
        return None if found is None else Versioned(copy.deepcopy(found[0]), found[1])

    async def add(self, rating: Rating) -> None:
        if rating.request_id in self.docs:
            raise Conflict(f"request {rating.request_id} has a rating already")
        self.outbox.events += rating.pull_events()
        self.docs[rating.request_id] = (copy.deepcopy(rating), 1)

    async def save(self, rating: Versioned[Rating]) -> None:
        _, version = self.docs[rating.value.request_id]
        if version != rating.version:
            raise ConcurrentUpdate(rating.value.request_id)
        self.outbox.events += rating.value.pull_events()
        self.docs[rating.value.request_id] = (copy.deepcopy(rating.value), version + 1)

    async def by_request_ids(self, request_ids: Sequence[str]) -> list[Rating]:
        return [copy.deepcopy(self.docs[i][0]) for i in request_ids if i in self.docs]

    def _sorted(self, keep: Callable[[Rating], bool], limit: int) -> list[Rating]:
        found = [copy.deepcopy(r) for r, _ in self.docs.values() if keep(r)]
        return sorted(found, key=lambda r: r.requested_at, reverse=True)[:limit]

    async def by_rater(self, person_id: str, limit: int) -> list[Rating]:
        return self._sorted(lambda r: r.rater_id == person_id, limit)

    async def by_provider(self, department_id: str, limit: int) -> list[Rating]:
        return self._sorted(lambda r: r.provider_department_id == department_id, limit)

    async def by_recovery_request(self, recovery_request_id: str) -> Versioned[Rating] | None:
        for rating, version in self.docs.values():
            if rating.recovery_request_id == recovery_request_id:
                return Versioned(copy.deepcopy(rating), version)
        return None


class FakeCaps:
    def __init__(self) -> None:
        self.counted: dict[str, list[str]] = {}

    async def take(self, person_id: str, period_key: str, request_id: str, cap: int) -> bool:
        counted = self.counted.setdefault(f"{person_id}|{period_key}", [])
        if request_id in counted:
            return True
        if len(counted) >= cap:
            return False
        counted.append(request_id)
        return True


class FakeServed:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str, str, datetime]] = {}

    async def record(
        self,
        *,
        request_id: str,
        requester_id: str,
        requester_department_id: str,
        provider_department_id: str,
        resolved_at: datetime,
    ) -> None:
        self.rows[request_id] = (
            requester_id,
            requester_department_id,
            provider_department_id,
            resolved_at,
        )

    def _in(self, start: datetime, end: datetime) -> list[tuple[str, str, str, datetime]]:
        return [row for row in self.rows.values() if start <= row[3] < end]

    async def was_served(
        self, person_id: str, provider_department_id: str, start: datetime, end: datetime
    ) -> str | None:
        for person, dept, provider, _ in self._in(start, end):
            if person == person_id and provider == provider_department_id:
                return dept
        return None

    async def providers_for(self, person_id: str, start: datetime, end: datetime) -> list[str]:
        return sorted({p for person, _, p, _ in self._in(start, end) if person == person_id})

    async def served_in(self, start: datetime, end: datetime) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for person, _, provider, _ in self._in(start, end):
            out.setdefault(provider, set()).add(person)
        return {d: sorted(p) for d, p in sorted(out.items())}


class FakeCampaigns:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.docs: dict[str, tuple[Campaign, int]] = {}
        self.answers_by_key: dict[str, Answer] = {}
        self.outbox = outbox

    async def add(self, campaign: Campaign) -> None:
        if campaign.campaign_id in self.docs:
            raise Conflict("exists")
        self.outbox.events += campaign.pull_events()
        self.docs[campaign.campaign_id] = (copy.deepcopy(campaign), 1)

    async def get(self, campaign_id: str) -> Versioned[Campaign] | None:
        found = self.docs.get(campaign_id)
        return None if found is None else Versioned(copy.deepcopy(found[0]), found[1])

    async def save(self, campaign: Versioned[Campaign]) -> None:
        _, version = self.docs[campaign.value.campaign_id]
        if version != campaign.version:
            raise ConcurrentUpdate(campaign.value.campaign_id)
        self.outbox.events += campaign.value.pull_events()
        self.docs[campaign.value.campaign_id] = (copy.deepcopy(campaign.value), version + 1)

    async def recent(self, limit: int) -> list[Campaign]:
        found = sorted((c for c, _ in self.docs.values()), key=lambda c: c.opened_at)
        return list(reversed(found))[:limit]

    async def add_answer(self, key: str, answer: Answer, event: EvaluationSubmitted) -> None:
        if key in self.answers_by_key:
            raise Conflict("you answered about this department already")
        self.answers_by_key[key] = answer
        self.outbox.events.append(event)

    async def answers(self, campaign_id: str, department_id: str | None = None) -> list[Answer]:
        return [
            a
            for a in self.answers_by_key.values()
            if a.campaign_id == campaign_id
            and (department_id is None or a.provider_department_id == department_id)
        ]


class FakeScores:
    """The score projection in memory: the same cells, once per event id (`apply_once`)."""

    def __init__(self, outbox: FakeOutbox) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.outbox = outbox

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
    ) -> None:
        for kind, key in keys_of(at).items():
            targets = (
                (Level.DEPARTMENT, provider, None),
                (Level.PAIR, provider, consumer),
                (Level.ORGANISATION, "*", None),
            )
            for level, prov, cons in targets:
                sid = score_id(kind, key, prov, cons)
                doc = self.docs.setdefault(
                    sid,
                    {
                        "period": kind.value,
                        "period_key": key,
                        "level": level,
                        "provider": prov,
                        "consumer": cons,
                        "counts": {},
                        "sets": {},
                        "applied": set(),
                        "version": 0,
                    },
                )
                if event_id in doc["applied"]:
                    continue
                doc["applied"].add(event_id)
                doc["version"] += 1
                for name, value in inc.items():
                    doc["counts"][name] = doc["counts"].get(name, 0) + value
                for set_name, member_id in (add_to_set or {}).items():
                    doc["sets"].setdefault(set_name, set()).add(member_id)
                if publish_at is not None and level is not Level.ORGANISATION:
                    doc["publish_at"] = min(doc.get("publish_at") or publish_at, publish_at)

    def _stored(self, sid: str) -> StoredCell:
        doc = self.docs[sid]
        counts = doc["counts"]
        return StoredCell(
            score_id=sid,
            period=doc["period"],
            period_key=doc["period_key"],
            level=doc["level"],
            provider_department_id=doc["provider"],
            consumer_department_id=doc["consumer"],
            cell=Cell(
                invitations=counts.get("invitations", 0),
                ratings=counts.get("ratings", 0),
                stars_sum=counts.get("stars_sum", 0),
                distribution={
                    k.split(".")[1]: v for k, v in counts.items() if k.startswith("dist.")
                },
                distinct_raters=len(doc["sets"].get("raters", ())),
                nps_respondents=counts.get("nps_respondents", 0),
                promoters=counts.get("promoters", 0),
                detractors=counts.get("detractors", 0),
            ),
        )

    async def cell(self, sid: str) -> Versioned[StoredCell] | None:
        if sid not in self.docs:
            return None
        return Versioned(self._stored(sid), self.docs[sid]["version"])

    async def cells(
        self, kind: PeriodKind, key: str, level: Level, provider: str | None = None
    ) -> list[StoredCell]:
        found = [
            self._stored(sid)
            for sid, doc in self.docs.items()
            if (doc["period"], doc["period_key"], doc["level"]) == (kind.value, key, level)
            and (provider is None or doc["provider"] == provider)
        ]
        return sorted(found, key=lambda c: c.provider_department_id)

    async def publish(self, cell: Versioned[StoredCell], events: list[object]) -> None:
        doc = self.docs[cell.value.score_id]
        if doc["version"] != cell.version:
            raise ConcurrentUpdate(cell.value.score_id)
        doc["version"] += 1
        doc.pop("publish_at", None)
        self.outbox.events += [e for e in events if isinstance(e, Event)]


class FakeMatrix:
    """The matrix projection in memory: counts once per event id, requests by sequence."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str, Pair], dict[str, int]] = {}
        self.applied: dict[tuple[str, str, Pair], set[str]] = {}
        self.tracked: dict[str, tuple[TrackedRequest, datetime | None]] = {}

    async def count(
        self, *, event_id: str, at: datetime, provider: str, consumer: str, inc: dict[str, int]
    ) -> None:
        for kind, key in keys_of(at).items():
            cell_key = (kind.value, key, (provider, consumer))
            applied = self.applied.setdefault(cell_key, set())
            if event_id in applied:
                continue
            applied.add(event_id)
            cell = self.cells.setdefault(cell_key, {})
            for name, value in inc.items():
                cell[name] = cell.get(name, 0) + value

    async def request(self, request_id: str) -> TrackedRequest | None:
        found = self.tracked.get(request_id)
        return found[0] if found else None

    async def track(
        self,
        request_id: str,
        *,
        sequence: int,
        provider: str,
        consumer: str,
        open_since: datetime | None,
        resolution: tuple[int, datetime] | None = None,
    ) -> None:
        found = self.tracked.get(request_id)
        if found is not None and found[0].sequence >= sequence:
            return
        resolutions = dict(found[0].resolutions) if found else {}
        if resolution is not None:
            resolutions[resolution[0]] = resolution[1]
        request = TrackedRequest(
            request_id, provider, consumer, sequence, open_since is not None, resolutions
        )
        self.tracked[request_id] = (request, open_since)

    async def counts(self, kind: PeriodKind, key: str) -> dict[Pair, PairCounts]:
        return {
            pair: PairCounts(**cell)
            for (k, pk, pair), cell in self.cells.items()
            if k == kind.value and pk == key
        }

    async def open_now(self) -> dict[Pair, OpenRequests]:
        found: dict[Pair, OpenRequests] = {}
        for request, since in self.tracked.values():
            if since is None:
                continue
            pair = (request.provider_department_id, request.consumer_department_id)
            seen = found.get(pair)
            found[pair] = OpenRequests(
                count=(seen.count if seen else 0) + 1,
                oldest_since=min(seen.oldest_since, since) if seen else since,
                since_sum_seconds=(seen.since_sum_seconds if seen else 0) + since.timestamp(),
            )
        return found


class FakeDirectory:
    def __init__(self) -> None:
        self.people: dict[str, KnownPerson] = {}
        self.departments: dict[str, KnownDepartment] = {}

    async def person(self, person_id: str) -> KnownPerson | None:
        return self.people.get(person_id)

    async def department(self, department_id: str) -> KnownDepartment | None:
        return self.departments.get(department_id)


@dataclass
class FakeWorld:
    deps: Deps
    outbox: FakeOutbox
    clock: SettableClock
    ratings: FakeRatings
    campaigns: FakeCampaigns


def in_memory(**overrides: Any) -> FakeWorld:
    """Use-case dependencies on fakes, with a clock at T0 that moves only when told to."""
    settings = FeedbackSettings(
        environment="development",
        auth_issuer="test",
        auth_jwks_file="unused",
        **overrides,
    )
    outbox = FakeOutbox()
    clock = SettableClock(T0)
    ratings, campaigns = FakeRatings(outbox), FakeCampaigns(outbox)
    deps = Deps(
        ratings=ratings,
        caps=FakeCaps(),
        served=FakeServed(),
        campaigns=campaigns,
        scores=FakeScores(outbox),
        matrix=FakeMatrix(),
        directory=FakeDirectory(),
        settings=settings,
        clock=clock,
    )
    return FakeWorld(deps, outbox, clock, ratings, campaigns)


def member(person_id: str, department_id: str, *roles: str) -> Member:
    return Member(person_id, department_id, frozenset(roles or ("employee",)))
