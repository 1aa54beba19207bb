"""The service's notion of now, injectable so SLA timing is testable without sleeping.

MongoDB keeps milliseconds, so every instant the service decides with is cut to milliseconds
before use: what it reloads is then exactly what it decided with.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icr.kit.clock import Clock, SettableClock, floor_ms, system_clock

__all__ = ["Clock", "SettableClock", "ceil_ms", "floor_ms", "system_clock"]

_MS = timedelta(milliseconds=1)


def ceil_ms(at: datetime) -> datetime:
    """The first millisecond at or after `at` (a timer stored earlier would fire too soon)."""
    floored = floor_ms(at)
    return floored if floored == at else floored + _MS
