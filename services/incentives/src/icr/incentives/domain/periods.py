"""The periods points are counted in: months, quarters and all time (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

ALL_TIME = "all"


def month_of(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year:04d}-{at.month:02d}"


def quarter_of(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year:04d}-Q{(at.month - 1) // 3 + 1}"


def periods_of(at: datetime) -> tuple[str, str, str]:
    """The month, the quarter and all time: every leaderboard an entry at `at` counts in."""
    return month_of(at), quarter_of(at), ALL_TIME


def is_period(value: str) -> bool:
    if value == ALL_TIME:
        return True
    year, sep, rest = value.partition("-")
    if not (sep and year.isdigit() and len(year) == 4):
        return False
    if rest.startswith("Q"):
        return rest[1:] in {"1", "2", "3", "4"}
    return rest.isdigit() and len(rest) == 2 and 1 <= int(rest) <= 12
