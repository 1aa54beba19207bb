"""Business calendars: when a department works, so SLA clocks count only working time.

Working hours are wall-clock times in the calendar's IANA time zone, so "09:00-18:00" stays
09:00-18:00 local across daylight-saving changes. Each local day's ranges are turned into UTC
instants and all arithmetic happens on those, which makes a 23- or 25-hour day come out right.
A boundary that falls in a spring-forward gap moves later by the gap's length (Python's fold=0,
the same rule as JavaScript Temporal's "compatible"); an ambiguous one takes the first occurrence.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icr.requests.domain.errors import InvalidInput

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ZERO = timedelta(0)


@dataclass(frozen=True, order=True)
class TimeRange:
    """A working range inside one local day, in minutes after midnight; `end` is exclusive and
    may be 1440 (midnight at the end of the day), which "24:00" spells."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise InvalidInput(f"invalid working range {self.start}-{self.end} (minutes)")

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        """`"09:00-12:00"`; `"24:00"` is allowed as an end."""
        try:
            first, second = text.strip().split("-")
            return cls(_parse_minute(first), _parse_minute(second))
        except ValueError as exc:  # InvalidInput is a ValueError too; keep the caller's text
            raise InvalidInput(f"invalid working range {text!r}: expected HH:MM-HH:MM") from exc

    def __str__(self) -> str:
        return f"{_format_minute(self.start)}-{_format_minute(self.end)}"


def _parse_minute(text: str) -> int:
    hours, minutes = text.strip().split(":")
    if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(text)
    h, m = int(hours), int(minutes)
    if m >= 60 or h > 24 or (h == 24 and m):
        raise ValueError(text)
    return h * 60 + m


def _format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_day(spec: str | Iterable[TimeRange]) -> tuple[TimeRange, ...]:
    """One day's working ranges from `"09:00-12:00,13:00-18:00"` (empty text: a day off)."""
    if isinstance(spec, str):
        ranges = [TimeRange.parse(p) for p in spec.split(",") if p.strip()]
    else:
        ranges = list(spec)
    ranges.sort()
    for before, after in itertools.pairwise(ranges):
        if after.start < before.end:
            raise InvalidInput(f"working ranges {before} and {after} overlap")
    return tuple(ranges)


def _as_utc(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{name} must be timezone-aware, got naive {at.isoformat()}")
    return at.astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday (Monday first) in one time zone, with holidays and extra
    working days (make-up days such as China's 调休, worked with `extra_day_hours`, or with the
    first working weekday's hours when that is empty)."""

    timezone: str
    week: tuple[tuple[TimeRange, ...], ...]
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_working_days: frozenset[date] = field(default_factory=frozenset)
    extra_day_hours: tuple[TimeRange, ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"unknown time zone {self.timezone!r}") from exc
        if len(self.week) != 7:
            raise InvalidInput(f"a week has 7 days, got {len(self.week)}")
        # Normalise so equal calendars compare equal whatever order the input came in.
        object.__setattr__(self, "week", tuple(parse_day(day) for day in self.week))
        object.__setattr__(self, "extra_day_hours", parse_day(self.extra_day_hours))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        # Holidays are finite, so one working weekday guarantees working time in every future;
        # extra days alone are finite and would make add_business_time search forever.
        if not any(self.week):
            raise InvalidInput("calendar has no working time: every weekday is empty")
        clash = self.holidays & self.extra_working_days
        if clash:
            raise InvalidInput(f"dates both holiday and working day: {sorted(clash)}")

    # --- constructors ---------------------------------------------------------------------------

    @classmethod
    def standard(
        cls,
        timezone: str,
        hours: str = "09:00-18:00",
        *,
        workdays: Iterable[int] = range(5),
        holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
    ) -> BusinessCalendar:
        """The same hours on each of `workdays` (0 = Monday), the other days off."""
        day = parse_day(hours)
        days = set(workdays)
        return cls(
            timezone,
            tuple(day if i in days else () for i in range(7)),
            frozenset(holidays),
            frozenset(extra_working_days),
        )

    @classmethod
    def from_spec(
        cls,
        timezone: str,
        week: Mapping[str, str],
        *,
        holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        extra_day_hours: str = "",
    ) -> BusinessCalendar:
        """From `{"mon": "09:00-12:00,13:00-18:00", ...}`; a missing day is a day off."""
        unknown = set(week) - set(WEEKDAYS)
        if unknown:
            raise InvalidInput(f"unknown weekdays {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        return cls(
            timezone,
            tuple(parse_day(week.get(name, "")) for name in WEEKDAYS),
            frozenset(holidays),
            frozenset(extra_working_days),
            parse_day(extra_day_hours),
        )

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """24x7: every instant is working time."""
        return cls.standard(timezone, "00:00-24:00", workdays=range(7))

    def spec(self) -> dict[str, str]:
        """The week as `{"mon": "09:00-12:00,13:00-18:00", ...}`, the inverse of from_spec."""
        return {
            name: ",".join(map(str, day)) for name, day in zip(WEEKDAYS, self.week, strict=True)
        }

    # --- queries --------------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key

    def local_date(self, at: datetime) -> date:
        return _as_utc(at, "at").astimezone(self.zone).date()

    def hours_on(self, day: date) -> tuple[TimeRange, ...]:
        if day in self.holidays:
            return ()
        if day in self.extra_working_days:
            return self.extra_day_hours or next(d for d in self.week if d)
        return self.week[day.weekday()]

    def is_working_time(self, at: datetime) -> bool:
        at = _as_utc(at, "at")
        return any(s <= at < e for s, e in self._spans(at, limit_days=2))

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which `duration` of working time has passed since `start`
        (UTC). Adding zero returns `start` itself, even outside working hours."""
        start = _as_utc(start, "start")
        if duration < _ZERO:
            raise InvalidInput(f"duration must not be negative, got {duration}")
        remaining = duration
        if remaining == _ZERO:
            return start
        for span_start, span_end in self._spans(start):
            available = span_end - span_start
            if remaining <= available:
                return span_start + remaining
            remaining -= available
        raise AssertionError("unreachable: _spans never ends")  # pragma: no cover

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in [a, b); negative when b is before a."""
        a, b = _as_utc(a, "a"), _as_utc(b, "b")
        if b < a:
            return -self.business_time_between(b, a)
        total = _ZERO
        for span_start, span_end in self._spans(a):
            if span_start >= b:
                break
            total += min(span_end, b) - span_start
        return total

    # --- internals ------------------------------------------------------------------------------

    def _spans(
        self, start: datetime, limit_days: int | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """Working spans as UTC instants, in order, clipped to begin at `start` and never to
        overlap (DST gaps can make a day's converted ranges overlap; clipping keeps sums exact).
        Infinite unless `limit_days` is given."""
        zone = self.zone
        # Start a day early: a span of the previous local day can still be running at `start`.
        day = start.astimezone(zone).date() - timedelta(days=1)
        last_end = start
        idle_days = 0
        # Construction guarantees a working weekday, so each holiday can cost at most a week;
        # only a bug can go longer without working time.
        max_idle = 7 * (len(self.holidays) + 2)
        while limit_days is None or limit_days > 0:
            found = False
            for r in self.hours_on(day):
                span_start = max(_instant(day, r.start, zone), last_end)
                span_end = _instant(day, r.end, zone)
                if span_end > span_start:
                    found = True
                    last_end = span_end
                    yield span_start, span_end
            idle_days = 0 if found else idle_days + 1
            if idle_days > max_idle:
                raise RuntimeError(f"no working time found in {max_idle} days of {self!r}")
            day += timedelta(days=1)
            if limit_days is not None:
                limit_days -= 1


@lru_cache(maxsize=65_536)
def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    # Pure and asked for again and again (every SLA of a page of requests walks the same
    # working days): remembered, it is a dictionary lookup instead of a time zone conversion.
    if minute == MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(UTC)
