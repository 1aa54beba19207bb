"""The department matrix: what happened between each provider and consumer department in a
period, and reciprocity (what a department provides versus consumes, and how two departments
rate each other).

Request numbers are counted per (period, provider, consumer) from the requests service's events;
rating numbers are the score projection's pair cells (`icr.feedback.domain.scores`), so the
average and the calibrated score mean exactly what they mean on `/scores`; the open backlog is
the requests open now, aged at read time from when each became open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from icr.feedback.domain.scores import Score

Pair = tuple[str, str]  # (provider department, consumer department)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


@dataclass(frozen=True)
class PairCounts:
    """Request counts of one pair in one period, each in the period of its own moment."""

    submitted: int = 0  # requests submitted (the volume)
    resolved: int = 0  # resolutions (a request resolved, reopened and resolved again: two)
    resolved_met: int = 0  # resolutions within the resolution target
    reopened: int = 0  # resolutions of the period later reopened
    closed: int = 0
    cancelled: int = 0
    rejected: int = 0

    @property
    def sla_attainment(self) -> float | None:
        """Share of the period's resolutions that met their resolution target."""
        return _ratio(self.resolved_met, self.resolved)

    @property
    def reopen_rate(self) -> float | None:
        """Share of the period's resolutions that the requester reopened (at most 1)."""
        return _ratio(min(self.reopened, self.resolved), self.resolved)


@dataclass(frozen=True)
class OpenRequests:
    """The requests of one pair open now, as the store groups them."""

    count: int
    oldest_since: datetime
    since_sum_seconds: float  # sum of the open-since times as POSIX seconds


@dataclass(frozen=True)
class Backlog:
    count: int
    oldest_since: datetime | None
    oldest_age_seconds: int | None
    average_age_seconds: int | None


NO_BACKLOG = Backlog(0, None, None, None)


def backlog_at(open_now: OpenRequests | None, now: datetime) -> Backlog:
    """Ages of the open requests at `now` (never stored: they grow by themselves)."""
    if open_now is None or open_now.count == 0:
        return NO_BACKLOG
    mean_since = open_now.since_sum_seconds / open_now.count
    return Backlog(
        count=open_now.count,
        oldest_since=open_now.oldest_since,
        oldest_age_seconds=max(0, int(now.timestamp() - open_now.oldest_since.timestamp())),
        average_age_seconds=max(0, int(now.timestamp() - mean_since)),
    )


@dataclass(frozen=True)
class MatrixCell:
    provider_department_id: str
    consumer_department_id: str
    counts: PairCounts
    rating: Score | None  # None: nobody was invited to rate this pair in the period
    backlog: Backlog


def cells_of(
    counts: Mapping[Pair, PairCounts],
    ratings: Mapping[Pair, Score],
    open_now: Mapping[Pair, OpenRequests],
    now: datetime,
) -> list[MatrixCell]:
    """One cell per pair with anything to show, ordered by provider then consumer."""
    pairs = sorted(set(counts) | set(ratings) | set(open_now))
    return [
        MatrixCell(
            provider_department_id=provider,
            consumer_department_id=consumer,
            counts=counts.get((provider, consumer), PairCounts()),
            rating=ratings.get((provider, consumer)),
            backlog=backlog_at(open_now.get((provider, consumer)), now),
        )
        for provider, consumer in pairs
    ]


def _shown_average(cell: MatrixCell | None) -> float | None:
    if cell is None or cell.rating is None or not cell.rating.shown:
        return None
    return cell.rating.average


@dataclass(frozen=True)
class Counterpart:
    """Between the department and one other department in the period."""

    department_id: str
    provided: int  # requests the other department submitted to this one
    consumed: int  # requests this department submitted to the other
    rating_received: float | None  # the other's average rating of this department
    rating_given: float | None  # this department's average rating of the other
    rating_asymmetry: float | None  # received minus given, when both are shown


@dataclass(frozen=True)
class Reciprocity:
    department_id: str
    provided: int
    consumed: int
    balance: int  # provided minus consumed
    counterparts: list[Counterpart]


def reciprocity_of(department_id: str, cells: Iterable[MatrixCell]) -> Reciprocity:
    """The department's give and take with every other department, from the matrix cells."""
    by_pair = {(c.provider_department_id, c.consumer_department_id): c for c in cells}
    others = sorted(
        {other for pair in by_pair for other in pair if department_id in pair} - {department_id}
    )
    counterparts = []
    for other in others:
        provided_cell = by_pair.get((department_id, other))
        consumed_cell = by_pair.get((other, department_id))
        received, given = _shown_average(provided_cell), _shown_average(consumed_cell)
        counterparts.append(
            Counterpart(
                department_id=other,
                provided=provided_cell.counts.submitted if provided_cell else 0,
                consumed=consumed_cell.counts.submitted if consumed_cell else 0,
                rating_received=received,
                rating_given=given,
                rating_asymmetry=(
                    round(received - given, 3)
                    if received is not None and given is not None
                    else None
                ),
            )
        )
    provided = sum(c.provided for c in counterparts)
    consumed = sum(c.consumed for c in counterparts)
    return Reciprocity(department_id, provided, consumed, provided - consumed, counterparts)
