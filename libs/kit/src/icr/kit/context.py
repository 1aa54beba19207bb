"""The causal context of the work in progress: which flow, which cause, which trace.

Set at the edge (an HTTP request, a consumed event) and read when events are written, so an
event records its correlation and causation ids and carries the W3C trace context to Kafka.

Trace headers are read and written with OpenTelemetry's W3C propagator, so `traceparent` and
`tracestate` follow the standard exactly. Each unit of work is a span of its own whose parent is
the caller's span; nothing is exported unless an OpenTelemetry SDK is configured, so by default
the ids only travel in headers, events and log lines.
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState

from icr.kit.logging import log_context

_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class Causation:
    trace_id: str
    span_id: str
    correlation_id: str | None = None
    causation_id: str | None = None
    parent_span_id: str | None = None
    """The caller's span (the incoming traceparent's), kept so a trace shows who called whom."""
    tracestate: str | None = None
    """Vendors' opaque trace state, handed on unchanged as W3C asks."""
    sampled: bool = True

    @property
    def traceparent(self) -> str:
        # W3C trace context, version 00: `00-<trace id>-<span id>-<flags>`. Written directly
        # (the propagator's inject cost more than the rest of a gateway hop); the ids are the
        # propagator's own lowercase hex, and `tests/kit` checks both agree.
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def headers(self) -> dict[str, str]:
        """`traceparent` (and `tracestate` if any) naming this span, for the next hop. The
        tracestate is the caller's, already validated by the propagator when it was read."""
        if self.tracestate:
            return {"traceparent": self.traceparent, "tracestate": self.tracestate}
        return {"traceparent": self.traceparent}

    def propagated(self) -> dict[str, str]:
        """`headers()` as OpenTelemetry's propagator writes them (what `headers` must equal)."""
        context = SpanContext(
            int(self.trace_id, 16),
            int(self.span_id, 16),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED if self.sampled else TraceFlags.DEFAULT),
            trace_state=TraceState.from_header([self.tracestate]) if self.tracestate else None,
        )
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(NonRecordingSpan(context)))
        return carrier

    def child(self) -> Causation:
        """Same trace, new span whose parent is this one: what we hand on to the next hop."""
        return replace(self, span_id=_span_id(), parent_span_id=self.span_id)


def _span_id() -> str:
    return secrets.token_hex(8)


def new_causation() -> Causation:
    return Causation(trace_id=secrets.token_hex(16), span_id=_span_id())


def new_flow(correlation_id: str | None) -> Causation:
    """A new trace started at an edge, correlated by the caller's id, else by its own trace id."""
    trace_id = secrets.token_hex(16)
    return Causation(
        trace_id=trace_id, span_id=_span_id(), correlation_id=correlation_id or trace_id
    )


def extract(headers: Mapping[str, str]) -> Causation | None:
    """A new span in the caller's trace, parented by the caller's span; None without a valid
    `traceparent` (W3C: then start a new trace)."""
    carrier = {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}
    caller = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    if not caller.is_valid:
        return None
    state = caller.trace_state.to_header() if caller.trace_state else ""
    return Causation(
        trace_id=trace.format_trace_id(caller.trace_id),
        span_id=_span_id(),
        parent_span_id=trace.format_span_id(caller.span_id),
        tracestate=state or None,
        sampled=caller.trace_flags.sampled,
    )


def parse_traceparent(value: str | None, tracestate: str | None = None) -> Causation | None:
    """`extract` for callers that hold the header values (a Kafka record's headers)."""
    if not value:
        return None
    return extract({"traceparent": value, **({"tracestate": tracestate} if tracestate else {})})


_current: contextvars.ContextVar[Causation | None] = contextvars.ContextVar(
    "icr_causation", default=None
)


def current() -> Causation:
    """The causation in force, or a fresh trace for work that started without one."""
    return _current.get() or new_causation()


@contextlib.contextmanager
def causation(value: Causation, **ids: str | None) -> Iterator[Causation]:
    """`value` in force inside the block, its ids (and `ids`, e.g. a request id) on every log
    line written there."""
    token = _current.set(value)
    try:
        with log_context(
            trace_id=value.trace_id,
            span_id=value.span_id,
            parent_span_id=value.parent_span_id,
            correlation_id=value.correlation_id,
            causation_id=value.causation_id,
            **ids,
        ):
            yield value
    finally:
        _current.reset(token)
