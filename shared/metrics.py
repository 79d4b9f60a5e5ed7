"""Every Prometheus metric Praxis exports, defined once.

Labels carry the service, event type, route and outcome; never a client or
clinician id (unbounded cardinality and personal data).
"""
from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter(
    "praxis_events_appended_total", "Events appended to the service's own store.",
    ["service", "type"])
EVENTS_PUBLISHED = Counter(
    "praxis_events_published_total", "Events the broker confirmed from the outbox relay.",
    ["service", "type"])
EVENTS_CONSUMED = Counter(
    "praxis_events_consumed_total",
    "Foreign events handled, by outcome (applied, duplicate, failed).",
    ["service", "type", "outcome"])
HANDLER_DURATION = Histogram(
    "praxis_event_handler_duration_seconds", "Time to handle one consumed event.",
    ["service", "type"])
HANDLER_RETRIES = Counter(
    "praxis_event_handler_retries_total", "Failed deliveries sent back for another attempt.",
    ["service", "type"])
DEAD_LETTERED = Counter(
    "praxis_events_dead_lettered_total", "Deliveries moved to a dead-letter queue.",
    ["service", "type"])
OUTBOX_BACKLOG = Gauge(
    "praxis_outbox_backlog_events", "Committed events not yet confirmed by the broker.",
    ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "praxis_outbox_oldest_event_age_seconds",
    "Age of the oldest committed event the broker has not confirmed (relay lag).",
    ["service"])
RELAY_FAILURES = Counter(
    "praxis_outbox_relay_failures_total", "Relay passes that failed (broker unreachable, nack).",
    ["service"])
HTTP_REQUESTS = Counter(
    "praxis_http_requests_total", "HTTP requests by route template and status.",
    ["service", "method", "route", "status"])
HTTP_DURATION = Histogram(
    "praxis_http_request_duration_seconds", "HTTP request latency by route template.",
    ["service", "method", "route"])
