"""SLA clocks: one target (first response or resolution) measured in business time.

A clock is an immutable value: every change returns a new clock, so the aggregate swaps it and
a stored clock can never be half-updated. The calendar is a parameter rather than a field, so
the stored clock stays small and the aggregate decides which calendar applies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from icr.requests.domain.calendar import BusinessCalendar
from icr.requests.domain.errors import (
    ClockAlreadyPaused,
    ClockNotPaused,
    ClockNotStopped,
    ClockStopped,
    InvalidInput,
)

_ZERO = timedelta(0)


class ClockKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None = None  # None while the clock is paused


@dataclass(frozen=True)
class SlaSnapshot:
    """What a request view shows about one clock at one instant."""

    kind: ClockKind
    target: timedelta
    due_at: datetime | None
    elapsed: timedelta
    remaining: timedelta
    paused: bool
    stopped: bool
    breached: bool
    met: bool | None


@dataclass(frozen=True)
class SlaClock:
    kind: ClockKind
    target: timedelta
    started_at: datetime
    pauses: tuple[Pause, ...] = ()
    stopped_at: datetime | None = None
    # When the warning and breach events were recorded, so each fires once per clock.
    warned_at: datetime | None = None
    breached_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.target <= _ZERO:
            raise InvalidInput(f"SLA target must be positive, got {self.target}")
        if self.started_at.tzinfo is None:
            raise InvalidInput("started_at must be timezone-aware")

    @classmethod
    def start(cls, kind: ClockKind, target: timedelta, at: datetime) -> SlaClock:
        return cls(kind=kind, target=target, started_at=at)

    # --- state ----------------------------------------------------------------------------------

    @property
    def is_paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].end is None

    @property
    def is_stopped(self) -> bool:
        return self.stopped_at is not None

    @property
    def is_running(self) -> bool:
        return not self.is_stopped and not self.is_paused

    @property
    def last_change(self) -> datetime:
        instants = [self.started_at]
        for p in self.pauses:
            instants.append(p.start)
            if p.end is not None:
                instants.append(p.end)
        if self.stopped_at is not None:
            instants.append(self.stopped_at)
        return max(instants)

    def _check_at(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise InvalidInput("clock instants must be timezone-aware")
        if at < self.last_change:
            raise InvalidInput(
                f"{self.kind} clock: {at.isoformat()} is before its last change "
                f"{self.last_change.isoformat()}"
            )

    # --- transitions ----------------------------------------------------------------------------

    def pause(self, at: datetime) -> SlaClock:
        if self.is_stopped:
            raise ClockStopped(f"{self.kind} clock is stopped and cannot pause")
        if self.is_paused:
            raise ClockAlreadyPaused(f"{self.kind} clock is already paused")
        self._check_at(at)
        return replace(self, pauses=(*self.pauses, Pause(at)))

    def resume(self, at: datetime) -> SlaClock:
        if self.is_stopped:
            raise ClockStopped(f"{self.kind} clock is stopped and cannot resume")
        if not self.is_paused:
            raise ClockNotPaused(f"{self.kind} clock is not paused")
        self._check_at(at)
        return replace(self, pauses=(*self.pauses[:-1], Pause(self.pauses[-1].start, at)))

    def stop(self, at: datetime) -> SlaClock:
        """Stop for good; a clock stopped while paused closes its pause at the same instant."""
        if self.is_stopped:
            raise ClockStopped(f"{self.kind} clock is already stopped")
        self._check_at(at)
        clock = self.resume(at) if self.is_paused else self
        return replace(clock, stopped_at=at)

    def reopen(self, at: datetime) -> SlaClock:
        """Run a stopped clock again; the time it was stopped counts as a pause, so the budget
        left at the stop is what remains (a reopen never grants a fresh target)."""
        if self.stopped_at is None:
            raise ClockNotStopped(f"{self.kind} clock is not stopped")
        self._check_at(at)
        return replace(self, pauses=(*self.pauses, Pause(self.stopped_at, at)), stopped_at=None)

    def mark_warned(self, at: datetime) -> SlaClock:
        return replace(self, warned_at=at)

    def mark_breached(self, at: datetime) -> SlaClock:
        return replace(self, breached_at=at)

    # --- arithmetic -----------------------------------------------------------------------------

    def paused_time(self, calendar: BusinessCalendar, until: datetime) -> timedelta:
        """Business time spent paused before `until`."""
        total = _ZERO
        for p in self.pauses:
            if p.start >= until:
                break
            end = until if p.end is None else min(p.end, until)
            total += calendar.business_time_between(p.start, end)
        return total

    def elapsed(self, calendar: BusinessCalendar, now: datetime) -> timedelta:
        """Business time the clock has counted by `now` (pauses and time after a stop excluded)."""
        end = now if self.stopped_at is None else min(now, self.stopped_at)
        if end <= self.started_at:
            return _ZERO
        return calendar.business_time_between(self.started_at, end) - self.paused_time(
            calendar, end
        )

    def remaining(self, calendar: BusinessCalendar, now: datetime) -> timedelta:
        """Target minus elapsed; negative once overdue."""
        return self.target - self.elapsed(calendar, now)

    def due_at(self, calendar: BusinessCalendar) -> datetime | None:
        """When elapsed reaches the target. None only while paused with budget left: the due
        time then depends on when the clock resumes."""
        return self._when_elapsed(calendar, self.target)

    def warning_at(self, calendar: BusinessCalendar, share: float) -> datetime | None:
        """When the remaining time falls to `share` of the target (e.g. 0.25)."""
        if not 0 < share < 1:
            raise InvalidInput(f"warning share must be between 0 and 1, got {share}")
        return self._when_elapsed(calendar, self.target * (1 - share))

    def _when_elapsed(self, calendar: BusinessCalendar, budget: timedelta) -> datetime | None:
        # Walk the running segments between pauses, spending the budget on their working time.
        # A closed history is finite except the last segment, which runs on unless a pause is
        # open; a stop does not end it, so a late stop still has a due time before it.
        segment_start = self.started_at
        for p in self.pauses:
            available = calendar.business_time_between(segment_start, p.start)
            if budget <= available:
                return calendar.add_business_time(segment_start, budget)
            budget -= available
            if p.end is None:
                return None
            segment_start = p.end
        return calendar.add_business_time(segment_start, budget)

    def is_breached(self, calendar: BusinessCalendar, now: datetime) -> bool:
        """True once the clock (stopped or not) is past its due time."""
        due = self.due_at(calendar)
        if due is None:
            return False
        end = now if self.stopped_at is None else min(now, self.stopped_at)
        return end > due

    def met(self, calendar: BusinessCalendar) -> bool | None:
        """Whether it stopped by its due time; None while it has not stopped."""
        if self.stopped_at is None:
            return None
        due = self.due_at(calendar)
        return due is not None and self.stopped_at <= due

    def snapshot(self, calendar: BusinessCalendar, now: datetime) -> SlaSnapshot:
        elapsed = self.elapsed(calendar, now)
        return SlaSnapshot(
            kind=self.kind,
            target=self.target,
            due_at=self.due_at(calendar),
            elapsed=elapsed,
            remaining=self.target - elapsed,
            paused=self.is_paused,
            stopped=self.is_stopped,
            breached=self.is_breached(calendar, now),
            met=self.met(calendar),
        )
