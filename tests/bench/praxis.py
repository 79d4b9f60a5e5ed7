"""Praxis's contenders: its event store, billing's consumer, the pipeline through a
broker, and the rebuild of billing's read models. Only stable entry points: the
EventStore and its unit of work, OutboxRelay, billing's nameko Service (its
application class is `Service.praxis.application_class`), Application.consume and
shared.projection.rebuild."""
import json
import time
import uuid
from datetime import timezone

import eventlet
from nameko.containers import ServiceContainer
from sqlalchemy import func, select

from services.billing.service import Service as Billing
from shared import config
from shared.envelope import Context, NewEvent
from shared.events import catalogue
from shared.outbox import OutboxRelay
from shared.projection import rebuild
from shared.store import EventStore, events_table
from tests.support import make_event

CONTEXT = Context("org-1", "clinic-1")
CHARGE_RECORDED = catalogue.latest_type("billing", "ChargeRecorded")


def session_held_data(appointment_id, client_id):
    return {"appointment_id": appointment_id, "client_id": client_id,
            "clinician_id": "clinician-1", "start": "2026-11-02T10:00:00Z", "minutes": 50,
            "modality": "in_person", "session_type": "individual",
            "place_of_service": "office", "audio_only": False, "episode_id": None,
            "session_number": 1}


def session_held(appointment_id, client_id):
    return NewEvent("SessionHeld", session_held_data(appointment_id, client_id))


def session_held_envelope(client_id):
    """SessionHeld as scheduling publishes it, for Application.consume."""
    appointment_id = str(uuid.uuid4())
    return make_event("scheduling", "SessionHeld", session_held_data(appointment_id, client_id),
                      subject=f"appointment-{appointment_id}").to_dict()


def client_registered_envelope(client_id):
    return make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Bench Client", "date_of_birth": "1990-01-02",
        "contact": {"email": "bench@example.org"}, "registered_at": "2026-11-01T09:00:00Z"},
        subject=f"client-{client_id}").to_dict()


def billing_application(url):
    """Billing's application on a new database, as its service builds it."""
    return Billing.praxis.application_class(url)


def registered_client(application):
    """A client billing knows, so its sessions are priced now rather than deferred."""
    client_id = str(uuid.uuid4())
    application.consume(client_registered_envelope(client_id))
    return client_id


def append(url, events, per_transaction):
    """events/s appended by scheduling's store, `per_transaction` SessionHeld to one
    stream per unit of work (event + outbox row each)."""
    store = EventStore(url, "scheduling", catalogue)
    store.create_schema()
    client_id = str(uuid.uuid4())
    transactions = max(1, events // per_transaction)
    started = time.perf_counter()
    for _ in range(transactions):
        appointment_id = str(uuid.uuid4())
        with store.unit_of_work() as uow:
            uow.append(f"appointment-{appointment_id}", 0, CONTEXT,
                       [session_held(appointment_id, client_id)
                        for _ in range(per_transaction)])
    elapsed = time.perf_counter() - started
    store.engine.dispose()
    return {"rate": transactions * per_transaction / elapsed}


def consume(application, events):
    """events/s of billing consuming SessionHeld in process (no broker): each one
    recorded, charged (ChargeRecorded + outbox row) and projected in one unit of work."""
    client_id = registered_client(application)
    envelopes = [session_held_envelope(client_id) for _ in range(events)]
    started = time.perf_counter()
    for envelope in envelopes:
        application.consume(envelope)
    return {"rate": events / (time.perf_counter() - started)}


def stored_events(store):
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(events_table)).scalar()


def top_up(application, total):
    """Consume sessions until billing's store holds `total` events (two a session:
    the SessionHeld it recorded and the ChargeRecorded it appended)."""
    client_id = registered_client(application)
    missing = total - stored_events(application.store)
    for _ in range(max(0, (missing + 1) // 2)):
        application.consume(session_held_envelope(client_id))


def rebuild_rate(store):
    """events/s replayed by `make rebuild`: billing's read models dropped and rebuilt."""
    started = time.perf_counter()
    count = rebuild(store)
    return {"rate": count / (time.perf_counter() - started)}


class Pipeline:
    """SessionHeld appended to scheduling's store -> its OutboxRelay -> the broker ->
    billing's nameko service consuming, charging and relaying its ChargeRecorded."""

    def __init__(self, url_factory, amqp_uri):
        self.url_factory, self.amqp_uri = url_factory, amqp_uri

    def __enter__(self):
        env = {"PRAXIS_BILLING_DATABASE_URL": self.url_factory(),
               "PRAXIS_AMQP_URI": self.amqp_uri, "PRAXIS_BILLING_PORT": "0"}
        self.container = ServiceContainer(Billing, config.nameko_config(
            config.load("billing", env)))
        self.container.start()
        self.billing = next(d for d in self.container.dependencies
                            if hasattr(d, "application")).application
        self.scheduling = EventStore(self.url_factory(), "scheduling", catalogue)
        self.scheduling.create_schema()
        self.relay = OutboxRelay(self.scheduling, self.amqp_uri)
        self.relay_thread = eventlet.spawn(self.relay.run)
        self.client_id = registered_client(self.billing)
        return self

    def __exit__(self, *exc):
        self.relay.stop()
        self.relay_thread.wait()
        self.relay.close()
        self.container.stop()
        self.scheduling.engine.dispose()

    def append(self):
        """Append one SessionHeld; return its event id."""
        appointment_id = str(uuid.uuid4())
        with self.scheduling.unit_of_work() as uow:
            (event,) = uow.append(f"appointment-{appointment_id}", 0, CONTEXT,
                                  [session_held(appointment_id, self.client_id)])
        return event.id

    def committed(self):
        with self.billing.store.read() as conn:
            return conn.execute(select(func.count()).select_from(events_table).where(
                events_table.c.type == CHARGE_RECORDED)).scalar()

    def commit_times(self):
        """{SessionHeld id: wall-clock time its charge was recorded, in its transaction}."""
        with self.billing.store.read() as conn:
            rows = conn.execute(select(events_table.c.recorded_at, events_table.c.envelope)
                                .where(events_table.c.type == CHARGE_RECORDED)).all()
        times = {}
        for recorded_at, envelope in rows:
            if recorded_at.tzinfo is None:  # SQLite gives it back naive, in UTC
                recorded_at = recorded_at.replace(tzinfo=timezone.utc)
            times[json.loads(envelope)["causationid"]] = recorded_at.timestamp()
        return times
