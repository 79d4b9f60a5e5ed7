"""The base of each service's application layer (plain Python, no nameko).

An application owns the service's event store. Commands run in a unit of work
(events and read-model rows commit together). Foreign events are recorded
and reacted to in one unit of work too, so a redelivery changes nothing.
"""
import time

from sqlalchemy import select

from . import metrics
from .envelope import Context, Event
from .errors import InvalidEvent
from .events import catalogue
from .store import EventStore, events_table


class Application:
    service = None        # "intake", ...
    projection = None     # the service's read models
    reactions = {}        # event name -> method name, for foreign events

    def __init__(self, database_url, amqp_uri=None):
        self.amqp_uri = amqp_uri
        self.store = EventStore(database_url, self.service, catalogue, self.projection)
        self.store.create_schema()

    def consume(self, body):
        """Handle one delivery of a foreign event; return 'applied' or 'duplicate'."""
        started = time.perf_counter()
        name = "unknown"
        try:
            try:
                original = Event.from_dict(body)
                name = original.name
            except ValueError as exc:
                raise InvalidEvent(str(exc))
            catalogue.validate(original)
            event = catalogue.upcast(original)
            with self.store.unit_of_work() as uow:
                if not uow.record_foreign(original):
                    outcome = "duplicate"
                else:
                    outcome = "applied"
                    reaction = self.reactions.get(event.name)
                    if reaction is not None:
                        getattr(self, reaction)(uow, event, Context.caused_by(event))
        except Exception:
            metrics.EVENTS_CONSUMED.labels(self.service, name, "failed").inc()
            raise
        metrics.EVENTS_CONSUMED.labels(self.service, name, outcome).inc()
        metrics.HANDLER_DURATION.labels(self.service, name).observe(time.perf_counter() - started)
        return outcome

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
            rows = conn.execute(query).all()
        return [{"position": r.position, "event": Event.from_json(r.envelope).to_dict()}
                for r in rows]
