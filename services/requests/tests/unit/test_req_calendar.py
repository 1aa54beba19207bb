"""Business-calendar arithmetic: hours, nights, weekends, holidays, time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from icr.requests.domain import BusinessCalendar, InvalidInput, TimeRange

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)


def split_day(tz: str, **kw: object) -> BusinessCalendar:
    return BusinessCalendar.standard(tz, "09:00-12:00,13:00-18:00", **kw)  # type: ignore[arg-type]


def test_adding_time_inside_one_range_stays_on_the_same_morning() -> None:
    cal = split_day("Asia/Shanghai")
    start = datetime(2024, 6, 3, 9, 30, tzinfo=SHANGHAI)
    assert cal.add_business_time(start, H) == datetime(2024, 6, 3, 10, 30, tzinfo=SHANGHAI)


def test_lunch_break_is_skipped() -> None:
    cal = split_day("Asia/Shanghai")
    start = datetime(2024, 6, 3, 11, 0, tzinfo=SHANGHAI)
    assert cal.add_business_time(start, 2 * H) == datetime(2024, 6, 3, 14, 0, tzinfo=SHANGHAI)


def test_night_is_skipped() -> None:
    cal = split_day("Asia/Shanghai")
    start = datetime(2024, 6, 3, 17, 0, tzinfo=SHANGHAI)
    assert cal.add_business_time(start, 2 * H) == datetime(2024, 6, 4, 10, 0, tzinfo=SHANGHAI)


def test_weekend_is_skipped() -> None:
    cal = split_day("Asia/Shanghai")
    friday = datetime(2024, 6, 7, 17, 0, tzinfo=SHANGHAI)
    assert cal.add_business_time(friday, 2 * H) == datetime(2024, 6, 10, 10, 0, tzinfo=SHANGHAI)


def test_start_outside_hours_counts_from_the_next_opening() -> None:
    cal = split_day("Asia/Shanghai")
    saturday = datetime(2024, 6, 8, 12, 0, tzinfo=SHANGHAI)
    assert cal.add_business_time(saturday, H) == datetime(2024, 6, 10, 10, 0, tzinfo=SHANGHAI)


def test_result_is_utc() -> None:
    cal = split_day("Asia/Shanghai")
    result = cal.add_business_time(datetime(2024, 6, 3, 0, 30, tzinfo=UTC), H)
    assert result.tzinfo is UTC
    assert result == datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_holiday_is_skipped() -> None:
    cal = split_day("Asia/Shanghai", holidays=[date(2024, 6, 7)])
    thursday = datetime(2024, 6, 6, 17, 0, tzinfo=SHANGHAI)
    assert cal.add_business_time(thursday, 2 * H) == datetime(2024, 6, 10, 10, 0, tzinfo=SHANGHAI)


def test_national_day_week_with_make_up_working_days() -> None:
    golden_week = [date(2024, 10, d) for d in range(1, 8)]
    cal = BusinessCalendar.standard(
        "Asia/Shanghai",
        holidays=golden_week,
        extra_working_days=[date(2024, 9, 29), date(2024, 10, 12)],
    )
    saturday = datetime(2024, 9, 28, 12, 0, tzinfo=SHANGHAI)
    # Sunday 29 September is worked (调休) with the weekday hours 09:00-18:00.
    assert cal.add_business_time(saturday, H) == datetime(2024, 9, 29, 10, 0, tzinfo=SHANGHAI)
    monday = datetime(2024, 9, 30, 17, 0, tzinfo=SHANGHAI)
    assert cal.add_business_time(monday, 2 * H) == datetime(2024, 10, 8, 10, 0, tzinfo=SHANGHAI)
    assert cal.business_time_between(monday, datetime(2024, 10, 8, 10, tzinfo=SHANGHAI)) == 2 * H


def test_extra_working_day_can_have_its_own_hours() -> None:
    cal = BusinessCalendar.from_spec(
        "Asia/Shanghai",
        {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
        extra_working_days=[date(2024, 6, 8)],
        extra_day_hours="10:00-12:00",
    )
    assert cal.hours_on(date(2024, 6, 8)) == (TimeRange(600, 720),)
    friday = datetime(2024, 6, 7, 17, 0, tzinfo=SHANGHAI)
    assert cal.add_business_time(friday, 2 * H) == datetime(2024, 6, 8, 11, 0, tzinfo=SHANGHAI)


def test_new_york_spring_forward_keeps_wall_clock_hours() -> None:
    cal = split_day("America/New_York")
    friday = datetime(2024, 3, 8, 17, 0, tzinfo=NY)  # EST, UTC-5
    due = cal.add_business_time(friday, 2 * H)
    assert due == datetime(2024, 3, 11, 10, 0, tzinfo=NY)  # EDT, UTC-4
    assert due == datetime(2024, 3, 11, 14, 0, tzinfo=UTC)
    assert cal.business_time_between(friday, due) == 2 * H


def test_new_york_fall_back_keeps_wall_clock_hours() -> None:
    cal = split_day("America/New_York")
    friday = datetime(2024, 11, 1, 17, 0, tzinfo=NY)  # EDT
    due = cal.add_business_time(friday, 2 * H)
    assert due == datetime(2024, 11, 4, 15, 0, tzinfo=UTC)  # 10:00 EST
    assert cal.business_time_between(friday, due) == 2 * H


def test_round_the_clock_days_are_23_and_25_hours_long_on_dst_changes() -> None:
    cal = BusinessCalendar.always("America/New_York")
    assert (
        cal.business_time_between(
            datetime(2024, 3, 10, tzinfo=NY), datetime(2024, 3, 11, tzinfo=NY)
        )
        == 23 * H
    )
    assert (
        cal.business_time_between(
            datetime(2024, 11, 3, tzinfo=NY), datetime(2024, 11, 4, tzinfo=NY)
        )
        == 25 * H
    )
    # 24x7 in any zone is plain elapsed time.
    a, b = datetime(2024, 3, 9, 12, tzinfo=UTC), datetime(2024, 3, 12, 7, 30, tzinfo=UTC)
    assert cal.business_time_between(a, b) == b - a
    assert cal.add_business_time(a, b - a) == b


def test_night_shift_across_the_spring_gap_counts_real_time() -> None:
    cal = BusinessCalendar.from_spec("America/New_York", {"sun": "00:00-06:00"})
    sunday = datetime(2024, 3, 10, tzinfo=NY)
    assert cal.business_time_between(sunday, sunday + timedelta(days=1)) == 5 * H
    november = datetime(2024, 11, 3, tzinfo=NY)
    assert cal.business_time_between(november, november + timedelta(days=1)) == 7 * H


def test_range_starting_inside_the_spring_gap_starts_after_it() -> None:
    # 02:30 does not exist on 10 March 2024 in New York; it maps to 03:30 EDT (fold=0).
    cal = BusinessCalendar.from_spec("America/New_York", {"sun": "02:30-04:00"})
    sunday = datetime(2024, 3, 10, tzinfo=NY)
    assert cal.business_time_between(sunday, sunday + timedelta(days=1)) == timedelta(minutes=30)


def test_berlin_dst_changes() -> None:
    cal = BusinessCalendar.standard("Europe/Berlin", "08:00-16:00")
    friday = datetime(2024, 3, 29, 15, 0, tzinfo=BERLIN)  # CET; DST starts Sunday 31 March
    assert cal.add_business_time(friday, 2 * H) == datetime(2024, 4, 1, 7, 0, tzinfo=UTC)
    october = datetime(2024, 10, 25, 15, 0, tzinfo=BERLIN)  # CEST; DST ends Sunday 27 October
    assert cal.add_business_time(october, 2 * H) == datetime(2024, 10, 28, 8, 0, tzinfo=UTC)
    always = BusinessCalendar.always("Europe/Berlin")
    march_31 = datetime(2024, 3, 31, tzinfo=BERLIN)
    assert always.business_time_between(march_31, march_31 + timedelta(days=1)) == 23 * H


def test_between_is_zero_outside_hours_and_negative_when_reversed() -> None:
    cal = split_day("Europe/Berlin")
    night = datetime(2024, 6, 3, 20, tzinfo=BERLIN)
    assert cal.business_time_between(night, night + 10 * H) == timedelta(0)
    a, b = datetime(2024, 6, 3, 9, tzinfo=BERLIN), datetime(2024, 6, 4, 9, tzinfo=BERLIN)
    assert cal.business_time_between(a, b) == 8 * H
    assert cal.business_time_between(b, a) == -8 * H


def test_adding_zero_returns_the_start_even_at_night() -> None:
    cal = split_day("Europe/Berlin")
    night = datetime(2024, 6, 3, 20, tzinfo=BERLIN)
    assert cal.add_business_time(night, timedelta(0)) == night


def test_adding_a_negative_duration_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="negative"):
        split_day("UTC").add_business_time(datetime(2024, 6, 3, tzinfo=UTC), -H)


def test_naive_datetimes_are_refused() -> None:
    cal = split_day("UTC")
    with pytest.raises(InvalidInput, match="timezone-aware"):
        cal.add_business_time(datetime(2024, 6, 3), H)  # noqa: DTZ001
    with pytest.raises(InvalidInput, match="timezone-aware"):
        cal.business_time_between(datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 6, 4))  # noqa: DTZ001


def test_is_working_time() -> None:
    cal = split_day("Asia/Shanghai")
    assert cal.is_working_time(datetime(2024, 6, 3, 9, 0, tzinfo=SHANGHAI))
    assert not cal.is_working_time(datetime(2024, 6, 3, 12, 30, tzinfo=SHANGHAI))
    assert not cal.is_working_time(datetime(2024, 6, 3, 18, 0, tzinfo=SHANGHAI))
    assert not cal.is_working_time(datetime(2024, 6, 8, 10, 0, tzinfo=SHANGHAI))


def test_calendar_without_working_time_is_refused() -> None:
    with pytest.raises(ValueError, match="no working time"):
        BusinessCalendar.standard("UTC", workdays=[])
    with pytest.raises(ValueError, match="no working time"):
        BusinessCalendar.from_spec("UTC", {}, extra_working_days=[date(2024, 6, 8)])


@pytest.mark.parametrize(
    ("timezone", "hours", "message"),
    [
        ("Mars/Olympus", "09:00-18:00", "unknown time zone"),
        ("UTC", "18:00-09:00", "invalid working range"),
        ("UTC", "9-18", "invalid working range"),
        ("UTC", "09:00-25:00", "invalid working range"),
        ("UTC", "09:00-13:00,12:00-18:00", "overlap"),
    ],
)
def test_bad_calendar_definitions_are_refused(timezone: str, hours: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BusinessCalendar.standard(timezone, hours)


def test_a_date_cannot_be_both_holiday_and_working_day() -> None:
    day = date(2024, 6, 8)
    with pytest.raises(InvalidInput, match="both holiday and working day"):
        BusinessCalendar.standard("UTC", holidays=[day], extra_working_days=[day])


def test_unknown_weekday_names_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown weekdays"):
        BusinessCalendar.from_spec("UTC", {"monday": "09:00-18:00"})


def test_spec_round_trips_and_24_00_is_midnight() -> None:
    week = {"mon": "09:00-12:00,13:00-18:00", "sat": "20:00-24:00"}
    cal = BusinessCalendar.from_spec("Europe/Berlin", week)
    assert cal.spec() == {**dict.fromkeys(cal.spec(), ""), **week}
    assert BusinessCalendar.from_spec("Europe/Berlin", cal.spec()) == cal
    assert TimeRange.parse("20:00-24:00").end == 24 * 60
    # Unsorted input is normalised, so equal calendars compare equal.
    assert BusinessCalendar.from_spec("UTC", {"mon": "13:00-14:00,09:00-10:00"}).week[0] == (
        TimeRange(540, 600),
        TimeRange(780, 840),
    )


def test_long_holiday_list_does_not_trip_the_loop_guard() -> None:
    # Only Mondays are worked and the next 20 Mondays are holidays.
    mondays = [date(2024, 6, 10) + timedelta(weeks=w) for w in range(20)]
    cal = BusinessCalendar.standard("UTC", workdays=[0], holidays=mondays)
    start = datetime(2024, 6, 4, tzinfo=UTC)
    assert cal.add_business_time(start, H) == datetime(2024, 10, 28, 10, tzinfo=UTC)
