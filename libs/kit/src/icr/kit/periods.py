"""Calendar periods (ISO week, month, quarter) in UTC, named by stable keys.

Scores, caps and leaderboards count per period; a key such as "2026-W49", "2026-12" or
"2026-Q4" names one, and `bounds` gives its half-open [start, end) interval.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def period_key(kind: PeriodKind, at: datetime) -> str:
    """The key of the period of `kind` that contains `at` (taken in UTC)."""
    day = at.astimezone(UTC).date()
    if kind is PeriodKind.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if kind is PeriodKind.MONTH:
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def bounds(kind: PeriodKind, key: str) -> tuple[datetime, datetime]:
    """[start, end) of the period `key`; ValueError when the key does not name one."""
    if kind is PeriodKind.WEEK and (m := _WEEK.match(key)):
        start_day = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
        return start, start + timedelta(days=7)
    if kind is PeriodKind.MONTH and (m := _MONTH.match(key)) and 1 <= int(m[2]) <= 12:
        year, month = int(m[1]), int(m[2])
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return start, end
    if kind is PeriodKind.QUARTER and (m := _QUARTER.match(key)):
        year, quarter = int(m[1]), int(m[2])
        start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
        end = datetime(year + quarter // 4, (3 * quarter) % 12 + 1, 1, tzinfo=UTC)
        return start, end
    raise ValueError(f"{key!r} is not a {kind.value} (e.g. 2026-W49, 2026-12, 2026-Q4)")


def keys_of(at: datetime) -> dict[PeriodKind, str]:
    """The key of every kind of period containing `at`."""
    return {kind: period_key(kind, at) for kind in PeriodKind}
