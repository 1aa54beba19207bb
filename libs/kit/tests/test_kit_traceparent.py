"""The trace headers the kit writes by hand are exactly what OpenTelemetry's W3C propagator
writes for the same span."""

from __future__ import annotations

import pytest

from icr.kit import context


@pytest.mark.parametrize(
    "incoming",
    [
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"},
        {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        },
    ],
)
def test_headers_equal_the_propagator_s(incoming: dict[str, str]) -> None:
    cause = context.extract(incoming)
    assert cause is not None
    for span in (cause, cause.child(), cause.child().child()):
        assert span.headers() == span.propagated()
        assert span.traceparent == span.propagated()["traceparent"]
        # Read back by the propagator, it names this span in the same trace.
        again = context.extract(span.headers())
        assert again is not None
        assert (again.trace_id, again.parent_span_id) == (span.trace_id, span.span_id)
        assert again.sampled == span.sampled


def test_a_new_trace_s_headers_equal_the_propagator_s() -> None:
    fresh = context.new_causation()
    assert fresh.headers() == fresh.propagated()
