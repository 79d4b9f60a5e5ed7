"""`make bench`: throughput of the kernel on this machine, printed, never asserted.

Measures, on SQLite and on PostgreSQL (when one answers):
  append   events/s, one event per unit of work (event + outbox row + read model)
  relay    events/s published with batched publisher confirms
  pipeline SessionHeld -> billing's consumer -> ChargeRecorded, events/s end to end
  replay   events/s through billing's projection (`make rebuild`)
Uses a throwaway RabbitMQ vhost and PostgreSQL database, like the tests.
"""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from urllib.parse import quote, urlparse  # noqa: E402

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from shared.envelope import Context, NewEvent  # noqa: E402
from shared.events import catalogue  # noqa: E402
from shared.outbox import OutboxRelay  # noqa: E402
from shared.projection import rebuild  # noqa: E402
from shared.store import EventStore  # noqa: E402

AMQP = os.environ.get("PRAXIS_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES = os.environ.get("PRAXIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
N = int(os.environ.get("BENCH_EVENTS", 2000))
CONTEXT = Context("org-1", "clinic-1")


@contextmanager
def vhost():
    parsed = urlparse(AMQP)
    api, auth = f"http://{parsed.hostname}:15672/api", (parsed.username, parsed.password)
    name = f"praxis-bench-{uuid.uuid4().hex[:8]}"
    requests.put(f"{api}/vhosts/{name}", auth=auth, timeout=5).raise_for_status()
    requests.put(f"{api}/permissions/{name}/{auth[0]}", auth=auth, timeout=5,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    try:
        yield f"amqp://{auth[0]}:{auth[1]}@{parsed.hostname}:{parsed.port or 5672}/{quote(name, safe='')}"
    finally:
        requests.delete(f"{api}/vhosts/{name}", auth=auth, timeout=10)


@contextmanager
def databases():
    """Yield {engine name: url factory}."""
    tmp = tempfile.mkdtemp(prefix="praxis-bench-")
    made = []
    admin = None

    def sqlite():
        return f"sqlite:///{tmp}/{uuid.uuid4().hex[:8]}.db"

    def postgres():
        name = f"praxis_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{POSTGRES.rsplit('/', 1)[0]}/{name}"

    factories = {"sqlite": sqlite}
    try:
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect():
            factories["postgresql"] = postgres
    except Exception as exc:
        print(f"(PostgreSQL at {POSTGRES} not reachable, SQLite only: {exc})")
    try:
        yield factories
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for name in made:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def session_held(appointment_id, client_id):
    return NewEvent("SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id,
        "clinician_id": "clinician-1", "start": "2026-11-02T10:00:00Z", "minutes": 50,
        "modality": "in_person", "session_type": "individual", "place_of_service": "office",
        "audio_only": False, "episode_id": None, "session_number": 1})


def bench_append(url):
    store = EventStore(url, "scheduling", catalogue)
    store.create_schema()
    client_id = str(uuid.uuid4())
    started = time.perf_counter()
    for _ in range(N):
        appointment_id = str(uuid.uuid4())
        with store.unit_of_work() as uow:
            uow.append(f"appointment-{appointment_id}", 0, CONTEXT,
                       [session_held(appointment_id, client_id)])
    return store, N / (time.perf_counter() - started)


def bench_relay(store, amqp_uri):
    from kombu import Connection, Exchange, Queue
    # A bound queue, so the broker really routes and stores every message.
    with Connection(amqp_uri) as connection:
        Queue("bench-sink", Exchange("scheduling.events", "topic", durable=True),
              routing_key="#")(connection.default_channel).declare()
    relay = OutboxRelay(store, amqp_uri, batch_size=500)
    started = time.perf_counter()
    sent = relay.drain()
    elapsed = time.perf_counter() - started
    relay.close()
    return sent / elapsed


def count_charges(store):
    from sqlalchemy import func, select

    from shared.store import events_table
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(events_table).where(
            events_table.c.type == "praxis.billing.ChargeRecorded.v1")).scalar()


def bench_pipeline(url_factory, amqp_uri):
    """Publish N SessionHeld through a scheduling store's relay into billing's service."""
    from nameko.containers import ServiceContainer

    from services.billing.service import Service as Billing
    from shared import config

    env = {"PRAXIS_BILLING_DATABASE_URL": url_factory(), "PRAXIS_AMQP_URI": amqp_uri,
           "PRAXIS_BILLING_PORT": "0"}
    settings = config.load("billing", env)
    container = ServiceContainer(Billing, config.nameko_config(settings))
    container.start()
    billing = next(d for d in container.dependencies if hasattr(d, "application")).application
    scheduling = EventStore(url_factory(), "scheduling", catalogue)
    scheduling.create_schema()
    relay = OutboxRelay(scheduling, amqp_uri)
    runner = eventlet.spawn(relay.run)
    try:
        client_id = str(uuid.uuid4())
        # Billing prices sessions only for a client it knows (else they wait, deferred).
        from tests.support import make_event
        billing.consume(make_event("intake", "ClientRegistered", {
            "client_id": client_id, "name": "Bench Client", "date_of_birth": "1990-01-02",
            "contact": {"email": "bench@example.org"}, "registered_at": "2026-11-01T09:00:00Z"},
            subject=f"client-{client_id}").to_dict())
        started = time.perf_counter()
        for _ in range(N):
            appointment_id = str(uuid.uuid4())
            with scheduling.unit_of_work() as uow:
                uow.append(f"appointment-{appointment_id}", 0, CONTEXT,
                           [session_held(appointment_id, client_id)])
        while True:
            charged = count_charges(billing.store)
            if charged >= N:
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"only {charged} of {N} charges after 600 s")
            time.sleep(0.2)
        rate = N / (time.perf_counter() - started)
    finally:
        relay.stop()
        runner.wait()
        relay.close()
        container.stop()
    return billing.store, rate


def bench_replay(store):
    started = time.perf_counter()
    count = rebuild(store)
    return count / (time.perf_counter() - started)


def main():
    print(f"Praxis kernel benchmark: {N} events per figure, {os.cpu_count()} cores\n")
    rows = []
    with databases() as factories, vhost() as amqp_uri:
        for engine, factory in factories.items():
            store, append_rate = bench_append(factory())
            relay_rate = bench_relay(store, amqp_uri)
            billing_store, pipeline_rate = bench_pipeline(factory, amqp_uri)
            replay_rate = bench_replay(billing_store)
            rows.append((engine, append_rate, relay_rate, pipeline_rate, replay_rate))
    print(f"{'engine':<12}{'append/s':>12}{'relay/s':>12}{'pipeline/s':>14}{'replay/s':>12}")
    for engine, *rates in rows:
        print(f"{engine:<12}" + "".join(f"{r:>12,.0f}" if i != 2 else f"{r:>14,.0f}"
                                        for i, r in enumerate(rates)))
    print("\nappend: event + outbox row per unit of work; relay: batched confirms, 500 a batch;"
          "\npipeline: SessionHeld appended -> relayed -> billing consumes, charges, relays;"
          "\nreplay: billing's read models rebuilt from its store.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
