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
OUTBOX_BACKLOG = Gauge(
    "icr_outbox_backlog",
    "Documents with events not yet published, per outbox collection (from the relay's scans).",
    ["database", "collection"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "icr_outbox_oldest_pending_seconds",
    "Age of the oldest event not yet published, per outbox collection (0 when none is pending).",
    ["database", "collection"],
)
