"""What the use cases need from storage, as Protocols (ports).

The Mongo stores in `icr.incentives.store` satisfy them; `icr.incentives.testing` has in-memory
fakes for the fast tier. The contract every implementation keeps:
- `Ledger.append` inserts an entry at most once, ever: a second entry with the same key
  (source event, rule, account) is refused by the store, whatever the caller remembers;
- an entry's events, an aggregate's state and its events, are one atomic write;
- `apply` of a projection (accounts, boards, caps) counts one entry once;
- a save against a stale version raises `ConcurrentUpdate` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from icr.incentives.domain.ledger import Entry
from icr.incentives.domain.policy import Policy
from icr.incentives.domain.recognition import GivingAllowance
from icr.incentives.domain.rewards import Redemption, Reward, State
from icr.incentives.domain.settlement import RequestFacts
from icr.kit.directory import KnownPerson

T = TypeVar("T")


@dataclass
class Versioned(Generic[T]):
    value: T
    version: int


@dataclass(frozen=True)
class Account:
    account: str
    department_id: str
    balance: int
    """The sum of the account's ledger entries."""
    reserved: int
    """Held by redemptions whose debit is not written yet."""
    earned: int
    """The sum of its earning entries (awards, revocations, recognition)."""

    @property
    def available(self) -> int:
        return self.balance - self.reserved


@dataclass(frozen=True)
class BoardLine:
    board: str
    period: str
    subject_id: str
    points: int


class Ledger(Protocol):
    async def append(self, entry: Entry, *, project_due: datetime) -> bool:
        """Insert the entry with its event; False if an entry with its key exists."""
        ...

    async def append_many(self, entries: Sequence[Entry], *, project_due: datetime) -> set[str]:
        """`append` for several entries in one round trip; the ids that were new."""
        ...

    async def get(self, entry_id: str) -> Entry | None: ...

    async def projected(self, entry_id: str) -> None:
        """The entry is counted into accounts and boards: its timer is cleared."""
        ...

    async def projected_many(self, entry_ids: Sequence[str]) -> None: ...

    async def for_request(self, request_id: str) -> list[Entry]: ...

    async def for_requests(self, request_ids: Iterable[str]) -> list[Entry]: ...

    async def history(
        self, account: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[Entry]:
        """Newest first, keyset-paged by (at, id)."""
        ...

    async def request_entries_between(self, start: datetime, end: datetime) -> list[Entry]:
        """Request-derived entries (awards and their revocations) dated in [start, end)."""
        ...

    async def sums(self) -> dict[str, int]:
        """The sum of every account's entries (an audit reads the whole ledger)."""
        ...

    async def uncounted(self) -> int:
        """Entries not yet counted into the projections (their timer is still set)."""
        ...


class Accounts(Protocol):
    async def apply(self, entry: Entry) -> None: ...

    async def apply_many(self, entries: Sequence[Entry]) -> None: ...

    async def get(self, account: str) -> Account | None: ...

    async def in_department(self, department_id: str) -> list[Account]: ...

    async def balances(self) -> dict[str, int]:
        """Every account's balance (an audit reads them all)."""
        ...

    async def hold(self, account: str, hold_id: str, amount: int) -> bool:
        """Reserve `amount` while the available balance covers it; True if held (also when
        this hold was taken before)."""
        ...

    async def release(self, account: str, hold_id: str, amount: int) -> None: ...


class Boards(Protocol):
    async def apply(self, entry: Entry) -> None: ...

    async def apply_many(self, entries: Sequence[Entry]) -> None: ...

    async def top(self, board: str, period: str, limit: int) -> list[BoardLine]: ...

    async def line(self, board: str, period: str, subject_id: str) -> BoardLine | None: ...


class Caps(Protocol):
    async def take(self, key: str, entry_id: str, amount: int, limit: int) -> bool:
        """Count `amount` under `key` if it stays within `limit`; True if counted (also when
        this entry was counted before)."""
        ...

    async def take_many(self, key: str, amounts: Sequence[tuple[str, int]], limit: int) -> set[str]:
        """`take` for several (entry id, amount) under one key; the ids counted."""
        ...


class FactsRepository(Protocol):
    async def get(self, request_id: str) -> Versioned[RequestFacts] | None: ...

    async def add(self, facts: RequestFacts) -> None:
        """ConcurrentUpdate if another writer created it first."""
        ...

    async def save(self, facts: Versioned[RequestFacts]) -> None: ...

    async def by_ids(self, request_ids: Iterable[str]) -> list[RequestFacts]: ...

    async def resolved_between(self, start: datetime, end: datetime) -> list[RequestFacts]: ...


class PolicyRepository(Protocol):
    async def in_effect(self, at: datetime) -> Policy: ...

    async def in_effect_many(self, times: Sequence[datetime]) -> list[Policy]:
        """The version in effect at each of `times`, in one read."""
        ...

    async def latest(self) -> Policy: ...

    async def versions(self) -> list[Policy]:
        """Newest first."""
        ...

    async def publish(self, policy: Policy) -> None:
        """Conflict if the version was taken meanwhile."""
        ...


class AllowanceRepository(Protocol):
    async def get(self, allowance_id: str) -> Versioned[GivingAllowance] | None: ...

    async def add(self, allowance: GivingAllowance) -> None: ...

    async def save(self, allowance: Versioned[GivingAllowance]) -> None: ...


class RewardRepository(Protocol):
    async def get(self, reward_id: str) -> Reward | None: ...

    async def list(self, *, active_only: bool) -> list[Reward]: ...

    async def put(self, reward: Reward) -> None: ...

    async def take_stock(self, reward_id: str, hold_id: str) -> bool:
        """One unit while stock is left; True if taken (also when this hold took it before)."""
        ...

    async def release_stock(self, reward_id: str, hold_id: str, *, restock: bool) -> None: ...


class RedemptionRepository(Protocol):
    async def get(self, redemption_id: str) -> Versioned[Redemption] | None: ...

    async def add(self, redemption: Redemption, *, due_at: datetime) -> None: ...

    async def save(self, redemption: Versioned[Redemption], *, due_at: datetime | None) -> None: ...

    async def list(
        self, *, person_id: str | None, state: State | None, limit: int
    ) -> list[Redemption]: ...


class People(Protocol):
    async def person(self, person_id: str) -> KnownPerson | None: ...
