"""The causal context of the work in progress: which flow, which cause, which trace.

Set at the edge (an HTTP request, a consumed event) and read when events are written, so an
event records its correlation and causation ids and carries the W3C trace context to Kafka.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace

from icr.kit.logging import log_context

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class Causation:
    trace_id: str
    span_id: str
    correlation_id: str | None = None
    causation_id: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    def child(self) -> Causation:
        """Same trace, new span: what we hand on to the next hop."""
        return replace(self, span_id=secrets.token_hex(8))


def new_causation() -> Causation:
    return Causation(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8))


def parse_traceparent(value: str | None) -> Causation | None:
    match = _TRACEPARENT.match(value or "")
    if not match or match.group(1) == "0" * 32:
        return None
    return Causation(trace_id=match.group(1), span_id=secrets.token_hex(8))


_current: contextvars.ContextVar[Causation | None] = contextvars.ContextVar(
    "icr_causation", default=None
)


def current() -> Causation:
    """The causation in force, or a fresh trace for work that started without one."""
    return _current.get() or new_causation()


@contextlib.contextmanager
def causation(value: Causation) -> Iterator[Causation]:
    token = _current.set(value)
    try:
        with log_context(
            trace_id=value.trace_id,
            correlation_id=value.correlation_id,
            causation_id=value.causation_id,
        ):
            yield value
    finally:
        _current.reset(token)
