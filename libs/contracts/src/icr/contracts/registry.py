"""Lookup from (type, version) on the wire to the event class, with upcasters for old versions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from icr.contracts.base import Envelope, Event

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEvent(LookupError):
    """The envelope names a type or version this code does not know."""


class Registry:
    def __init__(self) -> None:
        self._classes: dict[tuple[str, int], type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, *classes: type[Event]) -> None:
        for cls in classes:
            key = (cls.event_type, cls.event_version)
            if key in self._classes and self._classes[key] is not cls:
                raise ValueError(f"event {key} registered twice")
            self._classes[key] = cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function that turns `from_version` data into `from_version + 1` data."""

        def deco(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return deco

    def classes(self) -> Iterable[type[Event]]:
        return self._classes.values()

    def latest(self, event_type: str) -> type[Event]:
        versions = [c for (t, _), c in self._classes.items() if t == event_type]
        if not versions:
            raise UnknownEvent(event_type)
        return max(versions, key=lambda c: c.event_version)

    def parse(self, envelope: Envelope) -> Event:
        """The typed event for an envelope, upcast to the newest version this code knows."""
        data, version = dict(envelope.data), envelope.version
        target = self.latest(envelope.type)
        while version < target.event_version:
            step = self._upcasters.get((envelope.type, version))
            if step is None:
                raise UnknownEvent(f"no upcaster for {envelope.type} v{version}")
            data, version = step(data), version + 1
        cls = self._classes.get((envelope.type, version))
        if cls is None:
            raise UnknownEvent(f"{envelope.type} v{envelope.version}")
        return cls.model_validate(data)


registry = Registry()
