"""SLA clocks: pauses across nights and weekends, due and warning times, breach and met."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from icr.requests.domain import BusinessCalendar, ClockKind, InvalidInput, SlaClock
from icr.requests.domain.errors import (
    ClockAlreadyPaused,
    ClockNotPaused,
    ClockNotStopped,
    ClockStopped,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
CAL = BusinessCalendar.standard("Asia/Shanghai", "09:00-17:00")  # 8-hour days
H = timedelta(hours=1)


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=SH)  # 3 June 2024 is a Monday


def clock(target: timedelta, start: datetime) -> SlaClock:
    return SlaClock.start(ClockKind.RESOLUTION, target, start)


def test_due_counts_only_business_hours() -> None:
    assert clock(16 * H, sh(3, 9)).due_at(CAL) == sh(4, 17)


def test_pause_across_a_night_and_a_day_shifts_due_by_paused_business_time() -> None:
    c = clock(16 * H, sh(3, 9)).pause(sh(3, 15)).resume(sh(5, 10))
    # Counted: Monday 09-15 (6h), Wednesday 10-17 (7h), Thursday 09-12 (3h).
    assert c.paused_time(CAL, sh(5, 10)) == 11 * H  # Monday 2h, Tuesday 8h, Wednesday 1h
    assert c.due_at(CAL) == sh(6, 12)
    assert c.due_at(CAL) == CAL.add_business_time(sh(3, 9), 16 * H + 11 * H)


def test_pause_over_a_weekend_counts_only_its_working_hours() -> None:
    c = clock(9 * H, sh(7, 9)).pause(sh(7, 15)).resume(sh(10, 10))
    assert c.paused_time(CAL, sh(10, 10)) == 3 * H  # Friday 15-17 and Monday 09-10
    assert c.due_at(CAL) == sh(10, 13)


def test_pause_entirely_at_night_changes_nothing() -> None:
    c = clock(16 * H, sh(3, 9))
    assert c.pause(sh(3, 19)).resume(sh(4, 8)).due_at(CAL) == c.due_at(CAL)


def test_pause_across_a_dst_weekend_in_new_york() -> None:
    cal = BusinessCalendar.standard("America/New_York", "09:00-18:00")
    start = datetime(2024, 3, 8, 16, 0, tzinfo=NY)
    c = SlaClock.start(ClockKind.RESOLUTION, 4 * H, start)
    c = c.pause(datetime(2024, 3, 8, 17, tzinfo=NY)).resume(datetime(2024, 3, 11, 9, 30, tzinfo=NY))
    assert c.due_at(cal) == datetime(2024, 3, 11, 16, 30, tzinfo=UTC)  # 12:30 EDT


def test_due_is_unknown_while_paused_with_time_left() -> None:
    c = clock(16 * H, sh(3, 9)).pause(sh(3, 12))
    assert c.due_at(CAL) is None
    assert c.warning_at(CAL, 0.25) is None
    assert c.elapsed(CAL, sh(10, 9)) == 3 * H
    assert c.remaining(CAL, sh(10, 9)) == 13 * H


def test_due_is_known_when_paused_after_it_passed() -> None:
    c = clock(2 * H, sh(3, 9)).pause(sh(3, 15))
    assert c.due_at(CAL) == sh(3, 11)
    assert c.is_breached(CAL, sh(3, 16))
    assert c.remaining(CAL, sh(4, 12)) == -4 * H


def test_warning_at_a_share_of_time_left() -> None:
    c = clock(8 * H, sh(3, 9))
    assert c.warning_at(CAL, 0.25) == sh(3, 15)
    assert c.remaining(CAL, sh(3, 15)) == 2 * H
    assert clock(4 * H, sh(3, 16)).warning_at(CAL, 0.5) == sh(4, 10)


def test_warning_share_must_be_a_fraction() -> None:
    for share in (0, 1, 1.5, -0.1):
        with pytest.raises(InvalidInput, match="share"):
            clock(H, sh(3, 9)).warning_at(CAL, share)


def test_breach_is_after_due_even_outside_working_hours() -> None:
    c = clock(8 * H, sh(3, 9))
    assert c.due_at(CAL) == sh(3, 17)
    assert not c.is_breached(CAL, sh(3, 17))
    assert c.is_breached(CAL, sh(3, 17, 1))  # overdue at night though no work time passed
    assert c.remaining(CAL, sh(3, 23)) == timedelta(0)


def test_met_when_stopped_by_due_and_not_met_after() -> None:
    c = clock(4 * H, sh(3, 9))
    assert c.met(CAL) is None
    assert c.stop(sh(3, 13)).met(CAL) is True
    late = c.stop(sh(3, 13, 1))
    assert late.met(CAL) is False
    assert late.is_breached(CAL, sh(20, 9))
    assert late.elapsed(CAL, sh(20, 9)) == 4 * H + timedelta(minutes=1)


def test_stop_while_paused_closes_the_pause() -> None:
    c = clock(4 * H, sh(3, 9)).pause(sh(3, 10)).stop(sh(3, 15))
    assert c.pauses[-1].end == sh(3, 15)
    assert c.elapsed(CAL, sh(4, 9)) == H
    assert c.met(CAL) is True


def test_reopen_resumes_with_the_budget_left() -> None:
    c = clock(8 * H, sh(3, 9)).stop(sh(3, 13))  # 4h used
    reopened = c.reopen(sh(4, 9))
    assert not reopened.is_stopped
    assert reopened.elapsed(CAL, sh(4, 9)) == 4 * H
    assert reopened.due_at(CAL) == sh(4, 13)


def test_snapshot() -> None:
    snap = clock(8 * H, sh(3, 9)).snapshot(CAL, sh(3, 11))
    assert (snap.elapsed, snap.remaining, snap.due_at) == (2 * H, 6 * H, sh(3, 17))
    assert (snap.paused, snap.stopped, snap.breached, snap.met) == (False, False, False, None)


def test_pausing_twice_is_refused() -> None:
    with pytest.raises(ClockAlreadyPaused):
        clock(H, sh(3, 9)).pause(sh(3, 10)).pause(sh(3, 11))


def test_resuming_a_running_clock_is_refused() -> None:
    with pytest.raises(ClockNotPaused):
        clock(H, sh(3, 9)).resume(sh(3, 10))


def test_a_stopped_clock_cannot_pause_resume_or_stop() -> None:
    stopped = clock(H, sh(3, 9)).stop(sh(3, 10))
    for op in (stopped.pause, stopped.resume, stopped.stop):
        with pytest.raises(ClockStopped):
            op(sh(3, 11))


def test_reopening_a_running_clock_is_refused() -> None:
    with pytest.raises(ClockNotStopped):
        clock(H, sh(3, 9)).reopen(sh(3, 10))


def test_time_cannot_go_backwards() -> None:
    with pytest.raises(InvalidInput, match="before its last change"):
        clock(H, sh(3, 9)).pause(sh(3, 10)).resume(sh(3, 9, 30))


def test_target_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="positive"):
        clock(timedelta(0), sh(3, 9))
