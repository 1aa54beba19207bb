"""Property-based tests of the calendar and the SLA clock arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from icr.requests.domain import BusinessCalendar, ClockKind, Priority, ServiceRequest, SlaClock

CALENDARS = [
    BusinessCalendar.standard("America/New_York", "09:00-12:00,13:00-18:00"),
    BusinessCalendar.standard(
        "Europe/Berlin",
        "08:00-16:30",
        holidays=[date(2024, 12, 25), date(2024, 12, 26), date(2025, 1, 1), date(2024, 3, 29)],
    ),
    BusinessCalendar.standard(
        "Asia/Shanghai",
        holidays=[date(2024, 10, d) for d in range(1, 8)],
        extra_working_days=[date(2024, 9, 29), date(2024, 10, 12)],
    ),
    BusinessCalendar.always("America/New_York"),
    # A night shift across the DST changes (Sunday 02:00 local exists once or twice a year).
    BusinessCalendar.from_spec(
        "America/New_York", {"sun": "00:00-06:00", "wed": "22:00-24:00", "thu": "00:00-03:00"}
    ),
    BusinessCalendar.from_spec("Australia/Lord_Howe", {"sun": "01:00-03:00", "mon": "09:00-17:00"}),
]

calendars = st.sampled_from(CALENDARS)
# Instants from 2023 to 2025, covering several DST changes in every zone above.
instants = st.datetimes(
    min_value=datetime(2023, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2025, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=12))
positive = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=5))
shares = st.floats(min_value=0.05, max_value=0.95)

SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(calendars, instants, durations)
def test_between_inverts_add(cal: BusinessCalendar, a: datetime, d: timedelta) -> None:
    assert cal.business_time_between(a, cal.add_business_time(a, d)) == d


@SETTINGS
@given(calendars, instants, durations, durations)
def test_add_is_monotonic_in_duration(
    cal: BusinessCalendar, a: datetime, d1: timedelta, d2: timedelta
) -> None:
    d1, d2 = sorted((d1, d2))
    assert cal.add_business_time(a, d1) <= cal.add_business_time(a, d2)


@SETTINGS
@given(calendars, instants, instants, durations)
def test_add_is_monotonic_in_start(
    cal: BusinessCalendar, a1: datetime, a2: datetime, d: timedelta
) -> None:
    a1, a2 = sorted((a1, a2))
    assert cal.add_business_time(a1, d) <= cal.add_business_time(a2, d)


@SETTINGS
@given(calendars, instants, durations)
def test_business_time_never_exceeds_wall_time(
    cal: BusinessCalendar, a: datetime, d: timedelta
) -> None:
    end = cal.add_business_time(a, d)
    assert end - a >= d
    assert timedelta(0) <= cal.business_time_between(a, a + d) <= d


@SETTINGS
@given(calendars, st.lists(instants, min_size=3, max_size=3))
def test_between_is_additive_and_antisymmetric(cal: BusinessCalendar, xs: list[datetime]) -> None:
    a, b, c = sorted(xs)
    between = cal.business_time_between
    assert between(a, b) + between(b, c) == between(a, c)
    assert between(c, a) == -between(a, c)


@SETTINGS
@given(calendars, instants, positive)
def test_the_end_of_added_time_is_in_working_time(
    cal: BusinessCalendar, a: datetime, d: timedelta
) -> None:
    end = cal.add_business_time(a, d)
    assert cal.is_working_time(end - timedelta(microseconds=1))


@st.composite
def clocks(draw: st.DrawFn) -> SlaClock:
    """A clock with a random history of closed pauses, maybe an open one, maybe stopped."""
    start = draw(instants)
    target = draw(positive)
    clock = SlaClock.start(ClockKind.RESOLUTION, target, start)
    gaps = draw(
        st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)), max_size=6)
    )
    at = start
    for gap in gaps:
        at += gap
        clock = clock.resume(at) if clock.is_paused else clock.pause(at)
    if draw(st.booleans()):
        clock = clock.stop(
            at + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
        )
    return clock


@SETTINGS
@given(calendars, clocks())
def test_due_is_never_before_start_plus_target(cal: BusinessCalendar, clock: SlaClock) -> None:
    due = clock.due_at(cal)
    if due is None:
        assert clock.is_paused
        return
    assert due >= clock.started_at + clock.target


@SETTINGS
@given(calendars, clocks(), instants)
def test_paused_time_is_never_counted(
    cal: BusinessCalendar, clock: SlaClock, now: datetime
) -> None:
    for p in clock.pauses:
        end = p.end or now
        if end >= p.start:
            assert clock.elapsed(cal, p.start) == clock.elapsed(cal, end)
    stop = clock.stopped_at
    if stop is not None:
        assert clock.elapsed(cal, stop) == clock.elapsed(cal, stop + timedelta(days=30))
    assert (
        timedelta(0)
        <= clock.elapsed(cal, now)
        <= cal.business_time_between(clock.started_at, max(now, clock.started_at))
    )


@SETTINGS
@given(calendars, clocks(), instants, instants)
def test_elapsed_is_monotonic(
    cal: BusinessCalendar, clock: SlaClock, n1: datetime, n2: datetime
) -> None:
    n1, n2 = sorted((n1, n2))
    assert clock.elapsed(cal, n1) <= clock.elapsed(cal, n2)


@SETTINGS
@given(calendars, clocks())
def test_elapsed_reaches_the_target_exactly_at_due(cal: BusinessCalendar, clock: SlaClock) -> None:
    due = clock.due_at(cal)
    if due is None:
        return
    if clock.stopped_at is not None and clock.stopped_at < due:
        clock = clock.reopen(clock.stopped_at)  # measure the clock as if still running
        # (reopening at the stop instant adds an empty pause, so nothing else changes)
    assert clock.elapsed(cal, due) == clock.target
    assert clock.remaining(cal, due) == timedelta(0)
    assert clock.is_breached(cal, due) is False
    assert clock.is_breached(cal, due + timedelta(microseconds=1)) is (
        clock.stopped_at is None or clock.stopped_at > due
    )


@SETTINGS
@given(calendars, clocks(), shares)
def test_warning_comes_when_the_share_is_left(
    cal: BusinessCalendar, clock: SlaClock, share: float
) -> None:
    warning, due = clock.warning_at(cal, share), clock.due_at(cal)
    if warning is None:
        assert clock.is_paused
        return
    assert due is None or warning <= due
    if clock.stopped_at is None:
        assert clock.remaining(cal, warning) == clock.target - clock.target * (1 - share)


@SETTINGS
@given(calendars, clocks())
def test_met_means_stopped_by_the_due_time(cal: BusinessCalendar, clock: SlaClock) -> None:
    met = clock.met(cal)
    if clock.stopped_at is None:
        assert met is None
        return
    assert met == (
        clock.elapsed(cal, clock.stopped_at) <= clock.target
        and not (clock.is_breached(cal, clock.stopped_at))
    )


@SETTINGS
@given(calendars, clocks(), clocks(), shares)
def test_every_scheduled_sla_check_records_something(
    cal: BusinessCalendar, first: SlaClock, resolution: SlaClock, share: float
) -> None:
    request = ServiceRequest(
        id="req-1",
        title="t",
        catalog_item_id="item",
        catalog_item_version=1,
        provider_department_id="it",
        owning_team="desk",
        requester_id="ana",
        requester_department_id="sales",
        priority=Priority.MEDIUM,
        form={},
        calendar=cal,
        first_response=replace(first, kind=ClockKind.FIRST_RESPONSE),
        resolution=resolution,
        submitted_at=min(first.started_at, resolution.started_at),
        updated_at=max(first.last_change, resolution.last_change),
    )
    fired = 0
    while (at := request.next_sla_check_at(share)) is not None:
        assert request.check_sla(now=at, share=share), f"nothing recorded at {at}"
        fired += 1
        assert fired <= 4  # two clocks, each a warning and a breach at most
    # And when nothing is scheduled, nothing is pending, however late the check.
    assert request.check_sla(now=datetime(2030, 1, 1, tzinfo=UTC), share=share) == []
