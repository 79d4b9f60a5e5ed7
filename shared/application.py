"""The base of each service's application layer (plain Python, no nameko).

An application owns the service's event store. Commands run in a unit of work
(events and read-model rows commit together). Foreign events are recorded
and reacted to in one unit of work too, so a redelivery changes nothing.
"""
import logging
import time
from datetime import timedelta

from sqlalchemy import select

from . import config, deferred, metrics, tracing
from .auth import ALL_CLINICS
from .envelope import Context, Event, parse_type
from .errors import InvalidEvent
from .events import catalogue
from .logs import log_context
from .projection import ReadModels
from .store import EventStore, events_table, foreign_stream
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

    read_models = None    # ReadModels (shared/projection.py) when it has a projection

    def __init__(self, database_url, amqp_uri=None, rebuild_later=False):
        """With rebuild_later (the service's start), read models of another release
        are rebuilt by `read_models.ensure_current()` in the caller's background
        thread, the process refusing what needs them meanwhile; else here."""
        self.amqp_uri = amqp_uri
        self.store = EventStore(database_url, self.service, catalogue, self.projection)
        self.store.create_schema()
        if self.projection is not None:
            self.read_models = ReadModels(self.store)
            if not rebuild_later:
                self.read_models.ensure_current()

    def consume(self, body):
        """Handle one delivery of a foreign event; return 'applied', 'duplicate' or
        'deferred' (held for its stream's earlier event: shared/deferred.py)."""
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
            outcome = self._account(uow, original, event)
            if outcome == "applied":
                self._follow(uow, foreign_stream(original), original.sequence)
        return outcome, event

    def _account(self, uow, original, event):
        """Record one foreign event in its stream's order and react to it, or hold it
        for its predecessor: 'applied', 'duplicate' or 'deferred'."""
        taken = (event.service, event.name) in self.subscriptions
        outcome = uow.record_foreign(original, subscribed=taken)
        if outcome == "gap":
            now = utc_now()
            envelope = self.store.sealed(original, uow.conn, now) if taken else None
            if not deferred.hold(uow.conn, original, foreign_stream(original), envelope, now):
                return "duplicate"
            metrics.EVENTS_DEFERRED_TOTAL.labels(self.service, deferred.GAP).inc()
            log.info("%s %s deferred: %s", event.name, event.id, deferred.GAP)
            return "deferred"
        if outcome == "applied" and taken:
            self._react(uow, event)
            for waiting_for in self.awaited_by(event):
                self._resume(uow, waiting_for)
        return outcome

    def _follow(self, uow, stream_id, version):
        """Apply the events held for the version just accounted for, and theirs, in
        the stream's order."""
        while (held := deferred.next_held(uow.conn, stream_id, version)) is not None:
            deferred.release(uow.conn, held.event_id)
            if held.envelope is None:
                uow.pass_position(stream_id, held.version)
            else:
                original = self.store.opened(held.envelope, uow.conn)
                event = catalogue.upcast(original)
                with log_context(correlation_id=event.correlationid, event_id=event.id,
                                 event_type=event.type,
                                 trace_id=tracing.trace_id(event.traceparent)), \
                        tracing.tracing(event.traceparent):
                    self._account(uow, original, event)
                    log.info("%s %s resumed", event.name, event.id)
                metrics.EVENTS_RESUMED_TOTAL.labels(self.service, event.name).inc()
            version = held.version

    def accept_gap(self, stream_id, version):
        """An operator's word that `stream_id`'s versions up to `version` will never
        come (published before this service's queue existed, or lost): the position
        is passed and the events held behind it are applied. Returns how many were."""
        with self.store.unit_of_work() as uow:
            uow.lock()
            if version <= uow.stream_head(stream_id):
                return 0
            held = deferred.held_in(uow.conn, stream_id)
            uow.pass_position(stream_id, version)
            self._follow(uow, stream_id, version)
            left = deferred.held_in(uow.conn, stream_id)
        log.warning("gap accepted by an operator: %s up to version %d", stream_id, version)
        return held - left

    def dead_letter_gaps(self, park, now=None):
        """Dead-letter each event held for its predecessor longer than
        PRAXIS_GAP_WAIT_SECONDS: `park(producer, envelope json, detail)` must
        have the broker's confirm before it returns. The held row goes in the same
        transaction, after the letter: a crash between leaves both, and whichever
        is applied first makes the other a duplicate. Returns how many."""
        wait = config.gap_wait_seconds()
        before = (now or utc_now()) - timedelta(seconds=wait)
        with self.store.read() as conn:  # most sweeps find nothing: no write lock for them
            if not deferred.overdue(conn, before, limit=1):
                return 0
        with self.store.write() as conn:
            overdue = deferred.overdue(conn, before)
            for held in overdue:
                original = self.store.opened(held.envelope, conn)
                park(original.service, original.to_json(),
                     f"gap: {held.stream_id} version {held.version} waited {wait:g}s for "
                     f"version {held.predecessor}, which never arrived")
                deferred.release(conn, held.event_id)
                metrics.GAPS_DEAD_LETTERED.labels(self.service, original.name).inc()
                log.error("%s %s dead-lettered: gap before it in %s", original.name,
                          original.id, held.stream_id)
        return len(overdue)

    # -- erasure ---------------------------------------------------------------------
    def erase_client(self, uow, event, context=None):
        """ClientErased (intake's, or intake's own command): this store's data key for
        the client is destroyed, so every sealed field it kept of them reads as erased;
        the projection of the same event purged the client's read-model rows. A second
        ClientErased finds the key gone and changes nothing."""
        self.store.erase_client(uow.conn, event.data["client_id"])

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
