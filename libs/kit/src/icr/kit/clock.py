"""An injectable notion of now, so timing rules are testable without sleeping.

MongoDB keeps milliseconds, so every instant a service decides with is cut to milliseconds
before use: what it reloads is then exactly what it decided with. Shared by the services whose
rules depend on time (windows, expiries, periods).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def floor_ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond - at.microsecond % 1000)


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
