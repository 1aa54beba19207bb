"""The SLA side of a ServiceRequest: stopping clocks, and the warnings and breaches a scheduler
asks for. Kept apart so request.py reads as the lifecycle alone.

The scheduler loop is: `at = request.next_sla_check_at(share)`; at that instant (or later, after a
restart) load the request, call `check_sla(now=..., share=...)`, save. Each clock records its
warning and its breach once (the clock keeps when), so a late or repeated run adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icr.contracts.base import Event
from icr.contracts.requests import SlaBreached, SlaWarning
from icr.requests.domain.calendar import BusinessCalendar
from icr.requests.domain.sla import ClockKind, SlaClock, SlaSnapshot
from icr.requests.domain.timeline import SYSTEM, HistoryEntry

# A breach is "past due", strictly; the scheduler wakes one tick after the due instant.
_TICK = timedelta(microseconds=1)


class SlaChecks:
    # Provided by the ServiceRequest dataclass.
    id: str
    calendar: BusinessCalendar
    first_response: SlaClock
    resolution: SlaClock
    provider_department_id: str
    assignee_id: str | None
    history: list[HistoryEntry]

    def record(self, event: Event) -> None:
        raise NotImplementedError

    # --- views ----------------------------------------------------------------------------------

    def clock(self, kind: ClockKind) -> SlaClock:
        return self.first_response if kind is ClockKind.FIRST_RESPONSE else self.resolution

    def sla(self, now: datetime) -> dict[ClockKind, SlaSnapshot]:
        """Due times, time left and met or breached, per clock, as of `now`."""
        return {kind: self.clock(kind).snapshot(self.calendar, now) for kind in ClockKind}

    @property
    def first_response_due_at(self) -> datetime | None:
        return self.first_response.due_at(self.calendar)

    @property
    def resolution_due_at(self) -> datetime | None:
        return self.resolution.due_at(self.calendar)

    def is_breached(self, now: datetime) -> bool:
        return any(self.clock(k).is_breached(self.calendar, now) for k in ClockKind)

    # --- scheduling -----------------------------------------------------------------------------

    def next_sla_check_at(self, share: float) -> datetime | None:
        """The next instant a warning or breach falls due; None when no clock can fire (all
        stopped or fired, or paused with time left: resuming reschedules). A check_sla at the
        returned instant always records something, so a scheduler cannot spin."""
        instants: list[datetime] = []
        for kind in ClockKind:
            clock = self.clock(kind)
            if clock.is_stopped or clock.breached_at is not None:
                continue
            due = clock.due_at(self.calendar)
            if due is not None:
                instants.append(due + _TICK)
            # No warnings while paused: the requester holds the request, not the provider.
            if clock.warned_at is None and not clock.is_paused:
                warning = clock.warning_at(self.calendar, share)
                if warning is not None:
                    instants.append(warning)
        return min(instants, default=None)

    def check_sla(self, *, now: datetime, share: float) -> list[Event]:
        """Record the warnings and breaches due by `now` that were not recorded yet."""
        recorded: list[Event] = []
        for kind in ClockKind:
            clock = self.clock(kind)
            if clock.is_stopped:
                continue
            due = clock.due_at(self.calendar)
            if clock.breached_at is None and due is not None and now > due:
                # A breach makes a pending warning moot; mark it so it never fires late.
                clock = clock.mark_breached(now)
                clock = clock if clock.warned_at else clock.mark_warned(now)
                recorded.append(self._breached(kind, due, now))
            elif clock.warned_at is None and not clock.is_paused and due is not None:
                warning = clock.warning_at(self.calendar, share)
                if warning is not None and now >= warning:
                    clock = clock.mark_warned(now)
                    recorded.append(
                        SlaWarning(
                            request_id=self.id,
                            clock=str(kind),
                            due_at=due,
                            remaining_seconds=int(
                                clock.remaining(self.calendar, now).total_seconds()
                            ),
                            warned_at=now,
                            provider_department_id=self.provider_department_id,
                            assignee_id=self.assignee_id,
                        )
                    )
                    self.history.append(
                        HistoryEntry(SYSTEM, "sla_warning", now, {"clock": str(kind)})
                    )
            self._set_clock(kind, clock)
        for event in recorded:
            self.record(event)
        return recorded

    # --- used by the lifecycle ------------------------------------------------------------------

    def _stop(self, kind: ClockKind, at: datetime) -> None:
        """Stop a clock; a late stop the scheduler never saw still records its breach once."""
        clock = self.clock(kind)
        if clock.is_stopped:
            return
        clock = clock.stop(at)
        due = clock.due_at(self.calendar)
        if clock.breached_at is None and due is not None and at > due:
            clock = clock.mark_breached(at)
            self.record(self._breached(kind, due, at))
        self._set_clock(kind, clock)

    def _stop_all(self, at: datetime) -> None:
        for kind in ClockKind:
            self._stop(kind, at)

    def _seconds(self, clock: SlaClock, at: datetime) -> int:
        return int(clock.elapsed(self.calendar, at).total_seconds())

    def _set_clock(self, kind: ClockKind, clock: SlaClock) -> None:
        if kind is ClockKind.FIRST_RESPONSE:
            self.first_response = clock
        else:
            self.resolution = clock

    def _breached(self, kind: ClockKind, due: datetime, at: datetime) -> SlaBreached:
        self.history.append(HistoryEntry(SYSTEM, "sla_breached", at, {"clock": str(kind)}))
        return SlaBreached(
            request_id=self.id,
            clock=str(kind),
            due_at=due,
            breached_at=at,
            provider_department_id=self.provider_department_id,
            assignee_id=self.assignee_id,
        )
