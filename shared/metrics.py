"""Every Prometheus metric Praxis exports, defined once.

Labels carry the service, event type, route and outcome; never a client or
clinician id (unbounded cardinality and personal data).
"""
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `*_created` series beside each counter and histogram: one more series per label
# set that nothing reads (the counters' resets show in their values). Read at each
# scrape, so it holds for every metric below.
disable_created_metrics()

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
HANDLER_WAITS = Counter(
    "praxis_event_handler_waits_total",
    "Deliveries put back uncounted because the database or broker was away (away).",
    ["service", "away"])
DEAD_LETTERED = Counter(
    "praxis_events_dead_lettered_total", "Deliveries moved to a dead-letter queue.",
    ["service", "type"])
EVENTS_REFUSED = Counter(
    "praxis_events_refused_total",
    "Deliveries dead-lettered unapplied because they are not what their exchange "
    "vouches for (reason: source_mismatch).",
    ["service", "reason"])
EVENTS_DEFERRED = Gauge(
    "praxis_events_deferred",
    "Consumed events whose reaction waits for a fact not here yet (reason: "
    "client_unknown, client_details_behind), or which wait whole for the event before "
    "them in their stream (reason: gap), in the service's store.",
    ["service", "reason"])
GAPS_DEAD_LETTERED = Counter(
    "praxis_events_gap_dead_lettered_total",
    "Events dead-lettered because the event before them in their stream never arrived "
    "within PRAXIS_GAP_WAIT_SECONDS (also counted in praxis_events_dead_lettered_total).",
    ["service", "type"])
EVENTS_DEFERRED_TOTAL = Counter(
    "praxis_reactions_deferred_total", "Reactions deferred for a missing fact.",
    ["service", "reason"])
EVENTS_RESUMED_TOTAL = Counter(
    "praxis_reactions_resumed_total", "Deferred reactions run once their fact arrived.",
    ["service", "type"])
BREAK_GLASS = Counter(
    "praxis_break_glass_total",
    "Break-glass grants: a clinician outside a client's care team opened their records.",
    ["service", "organisation", "clinic"])
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
RATE_LIMITED = Counter(
    "praxis_rate_limited_total", "Requests refused 429 by a rate limit (shared/ratelimit.py).",
    ["service", "limit"])
HTTP_DURATION = Histogram(
    "praxis_http_request_duration_seconds", "HTTP request latency by route template.",
    ["service", "method", "route"])
CONSUME_LAG = Histogram(
    "praxis_event_consume_lag_seconds",
    "From an event's time to its application in this service's read models (projection lag).",
    ["service", "type"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900))
CONSUMER_BACKLOG = Gauge(
    "praxis_consumer_queue_messages",
    "Messages waiting in this service's event handler queues (consumer lag).",
    ["service", "queue"])

READ_MODEL_REBUILD_EVENTS = Gauge(
    "praxis_read_model_rebuild_events",
    "A read-model rebuild's progress (shared/projection.py): events replayed into the new "
    "tables so far (of=replayed) and in the store (of=stored).",
    ["service", "of"])

# The practice at a glance: per clinic (a bounded label), never per client.
RISK_FLAGS_OPEN = Gauge(
    "praxis_risk_flags_open", "Risk flags raised and not yet acknowledged.",
    ["service", "organisation", "clinic"])
ALLIANCE_CONCERNS_OPEN = Gauge(
    "praxis_alliance_concerns_open",
    "Alliance concerns (possible ruptures) flagged and not yet acknowledged.",
    ["service", "organisation", "clinic"])
ALLIANCE_CONCERNS_FLAGGED = Counter(
    "praxis_alliance_concerns_flagged_total", "Alliance concerns flagged.",
    ["service", "organisation", "clinic"])
REASSESSMENTS_OVERDUE = Gauge(
    "praxis_reassessments_overdue", "Clients whose reassessment is past due.",
    ["service", "organisation", "clinic"])
NOTES_OVERDUE = Gauge(
    "praxis_notes_overdue", "Progress notes unsigned past the clinic's deadline.",
    ["service", "organisation", "clinic"])


def set_per_clinic(gauge, service, counts):
    """Replace a per-clinic gauge's values: {(organisation, clinic): value}."""
    gauge.clear()
    for (organisation, clinic), value in counts.items():
        gauge.labels(service, organisation, clinic).set(value)


# Per clinician (a bounded label: the clinic's staff), never per client.
MESSAGES_UNREAD_OVER_A_DAY = Gauge(
    "praxis_messages_unread_over_a_day",
    "Client messages a clinician of the client's care team has not read a day after they "
    "were sent.", ["service", "organisation", "clinic", "clinician"])


def set_per_clinician(gauge, service, counts):
    """Replace a per-clinician gauge's values: {(organisation, clinic, clinician): value}."""
    gauge.clear()
    for (organisation, clinic, clinician), value in counts.items():
        gauge.labels(service, organisation, clinic, clinician).set(value)


REMINDERS = Counter(
    "praxis_reminders_total",
    "Appointment reminders per clinic by outcome: sent, or failed (the relay refused or "
    "was unreachable, no address on file, or a send interrupted).",
    ["organisation", "clinic", "outcome"])
