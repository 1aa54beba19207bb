"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "icr_events_published_total", "Events the outbox relay published to Kafka.", ["topic"]
)
EVENTS_CONSUMED = Counter(
    "icr_events_consumed_total",
    "Events a consumer finished, by outcome (applied, duplicate, ignored, dead_lettered).",
    ["group", "topic", "outcome"],
)
HANDLER_FAILURES = Counter(
    "icr_event_handler_failures_total", "Failed attempts to handle an event.", ["group", "type"]
)
HTTP_REQUESTS = Histogram(
    "icr_http_request_seconds", "HTTP request latency.", ["method", "route", "status"]
)
HTTP_ABANDONED = Gauge(
    "icr_http_abandoned_requests",
    "Requests answered 503 at their deadline whose work has not unwound yet (stuck if it grows).",
)
