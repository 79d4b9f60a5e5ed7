"""The base of each service's application layer (plain Python, no nameko).

An application owns the service's event store. Commands run in a unit of work
(events and read-model rows commit together). Foreign events are recorded
and reacted to in one unit of work too, so a redelivery changes nothing.
"""
import logging
import time

from sqlalchemy import select

from . import deferred, metrics, tracing
from .auth import ALL_CLINICS
from .envelope import Context, Event, parse_type
from .errors import InvalidEvent
from .events import catalogue
from .logs import log_context
from .projection import ensure_current
from .store import EventStore, events_table
from .subscriptions import Subscriptions
from .timeutil import parse_time, utc_now

log = logging.getLogger(__name__)


def _name_of(body):
    try:
        return parse_type(body.get("type", ""))[1]
    except ValueError:
        return "unknown"


class Application:
    service = None        # "intake", ...
    projection = None     # the service's read models
    subscriptions = Subscriptions({})  # what it consumes (services/<service>/subscriptions.py)

    handler_queues = ()  # set by the runtime: the queues this service consumes from

    def __init__(self, database_url, amqp_uri=None):
        self.amqp_uri = amqp_uri
        self.store = EventStore(database_url, self.service, catalogue, self.projection)
        self.store.create_schema()
        if self.projection is not None:
            ensure_current(self.store)

    def consume(self, body):
        """Handle one delivery of a foreign event; return 'applied' or 'duplicate'."""
        started = time.perf_counter()
        body = body if isinstance(body, dict) else {}
        traceparent = tracing.parse(body.get("traceparent"))
        with log_context(correlation_id=body.get("correlationid"), event_id=body.get("id"),
                         event_type=body.get("type"), trace_id=tracing.trace_id(traceparent)), \
                tracing.tracing(traceparent):
            try:
                outcome, event = self._consume(body)
            except Exception:
                metrics.EVENTS_CONSUMED.labels(self.service, _name_of(body), "failed").inc()
                raise
        name = event.name
        with log_context(correlation_id=event.correlationid, event_id=event.id,
                         event_type=event.type):
            log.info("consumed %s: %s", name, outcome)
        metrics.EVENTS_CONSUMED.labels(self.service, name, outcome).inc()
        metrics.HANDLER_DURATION.labels(self.service, name).observe(time.perf_counter() - started)
        if outcome == "applied":
            lag = (utc_now() - parse_time(event.time)).total_seconds()
            metrics.CONSUME_LAG.labels(self.service, name).observe(max(lag, 0.0))
        return outcome

    def _consume(self, body):
        try:
            original = Event.from_dict(body)
        except ValueError as exc:
            raise InvalidEvent(str(exc))
        catalogue.validate(original, strict=False)
        event = catalogue.upcast(original)
        with self.store.unit_of_work() as uow:
            if not uow.record_foreign(original):
                return "duplicate", event
            self._react(uow, event)
            for waiting_for in self.awaited_by(event):
                self._resume(uow, waiting_for)
        return "applied", event

    # -- deferred reactions (shared/deferred.py) ----------------------------------
    def missing_fact(self, uow, event):
        """(waiting_for, reason) when the event's reaction needs a fact not here yet."""
        return None

    def awaited_by(self, event):
        """The keys of deferred reactions this (recorded) event may complete."""
        return ()

    def _react(self, uow, event):
        reaction = self.subscriptions.reaction(event.service, event.name)
        if reaction is None:
            return
        missing = self.missing_fact(uow, event)
        if missing is not None:
            # Kept in this transaction, never a broker retry: it cannot dead-letter.
            deferred.defer(uow.conn, event, missing[0], missing[1], utc_now())
            metrics.EVENTS_DEFERRED_TOTAL.labels(self.service, missing[1]).inc()
            log.info("%s %s deferred: %s", event.name, event.id, missing[1])
            return
        getattr(self, reaction)(uow, event, Context.caused_by(event))

    def _resume(self, uow, waiting_for):
        """Run the reactions waiting for `waiting_for`, in arrival order; one still
        missing a fact stays deferred."""
        for position, envelope in deferred.waiting(uow.conn, waiting_for):
            event = self.store._decode(envelope, uow.conn)
            with log_context(correlation_id=event.correlationid, event_id=event.id,
                             event_type=event.type,
                             trace_id=tracing.trace_id(event.traceparent)), \
                    tracing.tracing(event.traceparent):
                deferred.resolve(uow.conn, position)
                self._react(uow, event)
                if not deferred.is_deferred(uow.conn, position):
                    log.info("%s %s resumed", event.name, event.id)
                    metrics.EVENTS_RESUMED_TOTAL.labels(self.service, event.name).inc()

    def deferred_reactions(self, limit=100):
        with self.store.read() as conn:
            return deferred.listing(conn, limit)

    def refresh_gauges(self):
        """Set the service's practice gauges from its read models (called at scrape)."""

    def refresh_deferred_gauge(self):
        with self.store.read() as conn:
            found = deferred.counts(conn)
        metrics.EVENTS_DEFERRED.clear()
        for reason, count in found.items():
            metrics.EVENTS_DEFERRED.labels(self.service, reason).set(count)

    def set_practice_gauge(self, gauge, counts):
        """Set a per-clinic gauge, with 0 for every clinic this store has seen, so a
        healthy clinic shows a 0 rather than no data."""
        with self.store.read() as conn:
            known = conn.execute(select(events_table.c.organisation_id,
                                        events_table.c.clinic_id).distinct()).all()
        values = {(org, clinic): 0 for org, clinic in known if clinic != ALL_CLINICS}
        values.update(counts)
        metrics.set_per_clinic(gauge, self.service, values)
        return values

    def event_feed(self, principal, after, limit):
        """This service's own events after a position, for subscribers that replay."""
        query = (select(events_table.c.position, events_table.c.envelope)
                 .where(events_table.c.position > after,
                        events_table.c.origin == self.service,
                        events_table.c.published.is_(True),
                        events_table.c.organisation_id == principal.organisation_id)
                 .order_by(events_table.c.position).limit(limit))
        clinics = principal.clinic_filter()
        if clinics is not None:
            query = query.where(events_table.c.clinic_id.in_(clinics))
        with self.store.read() as conn:
            # As published: sensitive fields opened, in the version it was stored as.
            return [{"position": r.position,
                     "event": self.store.opened(r.envelope, conn).to_dict()}
                    for r in conn.execute(query).all()]
