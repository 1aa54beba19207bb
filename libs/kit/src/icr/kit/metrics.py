"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "icr_events_published_total", "Events the outbox relay published to Kafka.", ["topic"]
)
EVENTS_CONSUMED = Counter(
    "icr_events_consumed_total",
    "Events a consumer finished, by outcome (applied, duplicate, stale, ignored, parked, held, "
    "dead_lettered).",
    ["group", "topic", "outcome"],
)
HANDLER_FAILURES = Counter(
    "icr_event_handler_failures_total", "Failed attempts to handle an event.", ["group", "type"]
)
HTTP_REQUESTS = Histogram(
    "icr_http_request_seconds", "HTTP request latency.", ["method", "route", "status"]
)
CONSUMER_REBALANCES = Counter(
    "icr_consumer_rebalances_total",
    "Partition assignments and revocations a consumer went through.",
    ["group", "kind"],
)
SEQUENCE_GAPS = Counter(
    "icr_consumer_sequence_gaps_total",
    "Events whose sequence number skipped past the last applied one (events missed upstream).",
    ["group", "topic"],
)
HELD_AGGREGATES = Gauge(
    "icr_consumer_held_aggregates",
    "Aggregates this consumer holds (their events parked) until an operator acts, by reason.",
    ["group", "reason"],
)
BUDGET_EXCEEDED = Counter(
    "icr_consumer_budget_exceeded_total",
    "Records whose processing budget ran out; the consumer sought back to them and polled.",
    ["group", "topic"],
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
HTTP_ABANDONED = Gauge(
    "icr_http_abandoned_requests",
    "Requests answered 503 at their deadline whose work has not unwound yet (stuck if it grows).",
)
HTTP_SHED = Counter(
    "icr_http_shed_requests_total",
    "Requests answered 503 at once because too much abandoned work was still running.",
)
