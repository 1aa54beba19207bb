"""The service's notion of now, injectable so SLA timing is testable without sleeping.

MongoDB keeps milliseconds, so every instant the service decides with is cut to milliseconds
before use: what it reloads is then exactly what it decided with.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

_MS = timedelta(milliseconds=1)


def floor_ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond - at.microsecond % 1000)


def ceil_ms(at: datetime) -> datetime:
    """The first millisecond at or after `at` (a timer stored earlier would fire too soon)."""
    floored = floor_ms(at)
    return floored if floored == at else floored + _MS


def system_clock() -> datetime:
    return floor_ms(datetime.now(UTC))


class SettableClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        self.now = floor_ms(start)

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = floor_ms(at)

    def advance(self, delta: timedelta) -> datetime:
        self.now = floor_ms(self.now + delta)
        return self.now
