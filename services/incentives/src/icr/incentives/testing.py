"""In-memory fakes of the incentives stores, for the fast test tier (no Kafka, no store).

Each keeps the contract of its Mongo store that the use cases rely on (`handlers/ports.py`):
the ledger refuses a second entry with the same key, projections count an entry once, holds and
stock are guarded, versioned saves raise `ConcurrentUpdate` when stale, and events are recorded
with the write that made them (`FakeOutbox`).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from icr.contracts import Event
from icr.incentives.clock import Clock
from icr.incentives.domain.errors import Conflict
from icr.incentives.domain.ledger import Entry
from icr.incentives.domain.policy import DEFAULT_POLICY, Policy
from icr.incentives.domain.recognition import GivingAllowance
from icr.incentives.domain.rewards import Redemption, Reward, State
from icr.incentives.domain.settlement import RequestFacts
from icr.incentives.handlers.deps import Deps
from icr.incentives.handlers.ports import Account, BoardLine, Versioned
from icr.incentives.settings import IncentivesSettings
from icr.incentives.store.ledger import entry_events
from icr.kit.directory import KnownPerson
from icr.kit.outbox import ConcurrentUpdate


@dataclass
class FakeOutbox:
    """What the stores recorded for the relay to publish, in order."""

    events: list[Event] = field(default_factory=list)

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


class FakeLedger:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.entries: dict[str, Entry] = {}
        self.unprojected: set[str] = set()
        self.outbox = outbox

    async def append(self, entry: Entry, *, project_due: datetime) -> bool:
        if entry.id in self.entries:
            return False
        self.entries[entry.id] = entry
        self.unprojected.add(entry.id)
        self.outbox.events += entry_events(entry)
        return True

    async def append_many(self, entries: Sequence[Entry], *, project_due: datetime) -> set[str]:
        return {e.id for e in entries if await self.append(e, project_due=project_due)}

    async def get(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    async def projected(self, entry_id: str) -> None:
        self.unprojected.discard(entry_id)

    async def projected_many(self, entry_ids: Sequence[str]) -> None:
        self.unprojected.difference_update(entry_ids)

    async def for_request(self, request_id: str) -> list[Entry]:
        return await self.for_requests([request_id])

    async def for_requests(self, request_ids: Iterable[str]) -> list[Entry]:
        ids = set(request_ids)
        return [e for e in self.entries.values() if e.request_id in ids]

    async def history(
        self, account: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[Entry]:
        mine = sorted(
            (e for e in self.entries.values() if e.account == account),
            key=lambda e: (e.at, e.id),
            reverse=True,
        )
        if before is not None:
            mine = [e for e in mine if (e.at, e.id) < before]
        return mine[:limit]

    async def sums(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for e in self.entries.values():
            out[e.account] += e.amount
        return dict(out)

    async def uncounted(self) -> int:
        return len(self.unprojected)

    async def request_entries_between(self, start: datetime, end: datetime) -> list[Entry]:
        return [
            e
            for e in self.entries.values()
            if e.trigger in ("resolution", "rating_given") and start <= e.at < end
        ]


class FakeAccounts:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def _doc(self, account: str) -> dict[str, Any]:
        return self.docs.setdefault(
            account,
            {"balance": 0, "available": 0, "reserved": 0, "earned": 0, "holds": [], "applied": []},
        )

    async def apply(self, entry: Entry) -> None:
        doc = self._doc(entry.account)
        if entry.id in doc["applied"]:
            return
        doc["applied"].append(entry.id)
        doc["department_id"] = entry.department_id
        doc["balance"] += entry.amount
        if entry.earning:
            doc["earned"] += entry.amount
        if entry.hold_id is None:
            doc["available"] += entry.amount
        else:
            doc["reserved"] += entry.amount
            if entry.hold_id in doc["holds"]:
                doc["holds"].remove(entry.hold_id)
            doc.setdefault("spent", []).append(entry.hold_id)

    async def apply_many(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            await self.apply(entry)

    async def get(self, account: str) -> Account | None:
        doc = self.docs.get(account)
        if doc is None:
            return None
        return Account(
            account, doc.get("department_id", ""), doc["balance"], doc["reserved"], doc["earned"]
        )

    async def in_department(self, department_id: str) -> list[Account]:
        found = [await self.get(a) for a, d in sorted(self.docs.items())]
        return [a for a in found if a is not None and a.department_id == department_id]

    async def balances(self) -> dict[str, int]:
        return {a: d["balance"] for a, d in sorted(self.docs.items())}

    async def hold(self, account: str, hold_id: str, amount: int) -> bool:
        doc = self.docs.get(account)
        if doc is None:
            return False
        if hold_id in doc["holds"] or hold_id in doc.get("spent", []):
            return True
        if doc["available"] < amount:
            return False
        doc["available"] -= amount
        doc["reserved"] += amount
        doc["holds"].append(hold_id)
        return True

    async def release(self, account: str, hold_id: str, amount: int) -> None:
        doc = self.docs.get(account)
        if doc is not None and hold_id in doc["holds"]:
            doc["holds"].remove(hold_id)
            doc["available"] += amount
            doc["reserved"] -= amount


class FakeBoards:
    def __init__(self) -> None:
        self.points: dict[tuple[str, str, str], int] = defaultdict(int)
        self.applied: set[tuple[str, str, str, str]] = set()

    async def apply(self, entry: Entry) -> None:
        for line in entry.board_lines():
            if (*line, entry.id) not in self.applied:
                self.applied.add((*line, entry.id))
                self.points[line] += entry.amount

    async def apply_many(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            await self.apply(entry)

    async def top(self, board: str, period: str, limit: int) -> list[BoardLine]:
        lines = [
            BoardLine(b, p, s, pts)
            for (b, p, s), pts in self.points.items()
            if (b, p) == (board, period)
        ]
        return sorted(lines, key=lambda line: (-line.points, line.subject_id))[:limit]

    async def line(self, board: str, period: str, subject_id: str) -> BoardLine | None:
        key = (board, period, subject_id)
        return BoardLine(*key, self.points[key]) if key in self.points else None


class FakeCaps:
    def __init__(self) -> None:
        self.used: dict[str, int] = defaultdict(int)
        self.applied: dict[str, set[str]] = defaultdict(set)

    async def take(self, key: str, entry_id: str, amount: int, limit: int) -> bool:
        if entry_id in self.applied[key]:
            return True
        if self.used[key] + amount > limit:
            return False
        self.used[key] += amount
        self.applied[key].add(entry_id)
        return True

    async def take_many(self, key: str, amounts: Sequence[tuple[str, int]], limit: int) -> set[str]:
        return {i for i, a in amounts if await self.take(key, i, a, limit)}


class FakeFacts:
    def __init__(self) -> None:
        self.docs: dict[str, Versioned[RequestFacts]] = {}

    async def get(self, request_id: str) -> Versioned[RequestFacts] | None:
        found = self.docs.get(request_id)
        return None if found is None else copy.deepcopy(found)

    async def add(self, facts: RequestFacts) -> None:
        if facts.request_id in self.docs:
            raise ConcurrentUpdate("exists")
        self.docs[facts.request_id] = Versioned(copy.deepcopy(facts), 1)

    async def save(self, facts: Versioned[RequestFacts]) -> None:
        stored = self.docs[facts.value.request_id]
        if stored.version != facts.version:
            raise ConcurrentUpdate("stale")
        facts.version += 1
        self.docs[facts.value.request_id] = copy.deepcopy(facts)

    async def by_ids(self, request_ids: Iterable[str]) -> list[RequestFacts]:
        return [copy.deepcopy(self.docs[i].value) for i in request_ids if i in self.docs]

    async def resolved_between(self, start: datetime, end: datetime) -> list[RequestFacts]:
        return [
            copy.deepcopy(v.value)
            for v in self.docs.values()
            if v.value.resolution and start <= v.value.resolution.resolved_at < end
        ]


class FakePolicies:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.by_version: dict[int, Policy] = {}
        self.outbox = outbox

    async def in_effect(self, at: datetime) -> Policy:
        live = [p for p in self.by_version.values() if p.effective_from <= at]
        return max(live, key=lambda p: (p.effective_from, p.version), default=DEFAULT_POLICY)

    async def in_effect_many(self, times: Sequence[datetime]) -> list[Policy]:
        return [await self.in_effect(at) for at in times]

    async def latest(self) -> Policy:
        return self.by_version[max(self.by_version)] if self.by_version else DEFAULT_POLICY

    async def versions(self) -> list[Policy]:
        return [self.by_version[v] for v in sorted(self.by_version, reverse=True)] + [
            DEFAULT_POLICY
        ]

    async def publish(self, policy: Policy) -> None:
        if policy.version in self.by_version:
            raise Conflict("taken")
        self.by_version[policy.version] = policy


class FakeAllowances:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.docs: dict[str, Versioned[GivingAllowance]] = {}
        self.outbox = outbox

    async def get(self, allowance_id: str) -> Versioned[GivingAllowance] | None:
        found = self.docs.get(allowance_id)
        return None if found is None else copy.deepcopy(found)

    async def add(self, allowance: GivingAllowance) -> None:
        if allowance.id in self.docs:
            raise ConcurrentUpdate("exists")
        self._record(allowance)
        self.docs[allowance.id] = Versioned(copy.deepcopy(allowance), 1)

    async def save(self, allowance: Versioned[GivingAllowance]) -> None:
        if self.docs[allowance.value.id].version != allowance.version:
            raise ConcurrentUpdate("stale")
        self._record(allowance.value)
        allowance.version += 1
        self.docs[allowance.value.id] = copy.deepcopy(allowance)

    def _record(self, allowance: GivingAllowance) -> None:
        self.outbox.events += allowance.events
        allowance.events = []


class FakeRewards:
    def __init__(self) -> None:
        self.docs: dict[str, Reward] = {}
        self.holders: dict[str, set[str]] = defaultdict(set)

    async def get(self, reward_id: str) -> Reward | None:
        found = self.docs.get(reward_id)
        return None if found is None else replace(found)

    async def list(self, *, active_only: bool) -> list[Reward]:
        return [replace(r) for _, r in sorted(self.docs.items()) if r.active or not active_only]

    async def put(self, reward: Reward) -> None:
        self.docs[reward.reward_id] = replace(reward)

    async def take_stock(self, reward_id: str, hold_id: str) -> bool:
        reward = self.docs.get(reward_id)
        if reward is None:
            return False
        if hold_id in self.holders[reward_id]:
            return True
        if not reward.active or reward.stock < 1:
            return False
        reward.stock -= 1
        self.holders[reward_id].add(hold_id)
        return True

    async def release_stock(self, reward_id: str, hold_id: str, *, restock: bool) -> None:
        if hold_id in self.holders[reward_id]:
            self.holders[reward_id].discard(hold_id)
            if restock:
                self.docs[reward_id].stock += 1


class FakeRedemptions:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.docs: dict[str, Versioned[Redemption]] = {}
        self.due: dict[str, datetime | None] = {}
        self.outbox = outbox

    async def get(self, redemption_id: str) -> Versioned[Redemption] | None:
        found = self.docs.get(redemption_id)
        return None if found is None else copy.deepcopy(found)

    async def add(self, redemption: Redemption, *, due_at: datetime) -> None:
        self.outbox.events += redemption.events
        redemption.events = []
        self.docs[redemption.redemption_id] = Versioned(copy.deepcopy(redemption), 1)
        self.due[redemption.redemption_id] = due_at

    async def save(self, redemption: Versioned[Redemption], *, due_at: datetime | None) -> None:
        rid = redemption.value.redemption_id
        if self.docs[rid].version != redemption.version:
            raise ConcurrentUpdate("stale")
        self.outbox.events += redemption.value.events
        redemption.value.events = []
        redemption.version += 1
        self.docs[rid] = copy.deepcopy(redemption)
        self.due[rid] = due_at

    async def list(
        self, *, person_id: str | None, state: State | None, limit: int
    ) -> list[Redemption]:
        found = [
            copy.deepcopy(v.value)
            for v in self.docs.values()
            if (person_id is None or v.value.person_id == person_id)
            and (state is None or v.value.state == state)
        ]
        return sorted(found, key=lambda r: r.requested_at, reverse=True)[:limit]


class FakePeople:
    def __init__(self, people: dict[str, KnownPerson] | None = None) -> None:
        self.people = people or {}

    def add(self, person_id: str, department_id: str, *roles: str) -> None:
        self.people[person_id] = KnownPerson(
            person_id, person_id, department_id, frozenset(roles or ("employee",)), True
        )

    async def person(self, person_id: str) -> KnownPerson | None:
        return self.people.get(person_id)


@dataclass
class SettableClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Fakes:
    outbox: FakeOutbox
    ledger: FakeLedger
    accounts: FakeAccounts
    boards: FakeBoards
    caps: FakeCaps
    facts: FakeFacts
    policies: FakePolicies
    allowances: FakeAllowances
    rewards: FakeRewards
    redemptions: FakeRedemptions
    people: FakePeople


def in_memory(clock: Clock, settings: IncentivesSettings | None = None) -> tuple[Deps, Fakes]:
    outbox = FakeOutbox()
    fakes = Fakes(
        outbox=outbox,
        ledger=FakeLedger(outbox),
        accounts=FakeAccounts(),
        boards=FakeBoards(),
        caps=FakeCaps(),
        facts=FakeFacts(),
        policies=FakePolicies(outbox),
        allowances=FakeAllowances(outbox),
        rewards=FakeRewards(),
        redemptions=FakeRedemptions(outbox),
        people=FakePeople(),
    )
    deps = Deps(
        ledger=fakes.ledger,
        accounts=fakes.accounts,
        boards=fakes.boards,
        caps=fakes.caps,
        facts=fakes.facts,
        policies=fakes.policies,
        allowances=fakes.allowances,
        rewards=fakes.rewards,
        redemptions=fakes.redemptions,
        people=fakes.people,
        settings=settings or IncentivesSettings(),
        clock=clock,
    )
    return deps, fakes
