"""Praxis's peers: the eventsourcing library (same engine, same server) and a raw
floor written for the bench (plain sqlite3 / psycopg2 with the durability Praxis
has, and a minimal hand-written durable pipeline over the same broker).

The floor does the least the same guarantees need: an event and its outbox row in
one transaction; a consumer that records the event id, its projection row and its
own outgoing event in one transaction (a redelivery is a no-op); a relay that
deletes outbox rows only after the broker confirmed the whole batch.
"""
import json
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from urllib.parse import unquote, urlparse

import amqp
import eventlet
import psycopg2
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from .praxis import session_held_data

# -- eventsourcing ---------------------------------------------------------------------


class Appointment(Aggregate):
    @event("Held")
    def __init__(self, data: dict):
        self.sessions = 1

    @event("HeldAgain")
    def held(self, data: dict):
        self.sessions += 1


class Scheduling(Application):
    log_section_size = 1000  # the replay reads sections as large as Praxis's pages


def eventsourcing_env(url):
    """The same engine as the SQLAlchemy URL: the SQLite file beside Praxis's (the
    library turns on WAL itself), or a database on the same PostgreSQL server."""
    if url.startswith("sqlite"):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": url.removeprefix("sqlite:///")}
    parsed = urlparse(url)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parsed.path.lstrip("/"), "POSTGRES_HOST": parsed.hostname,
            "POSTGRES_PORT": str(parsed.port or 5432), "POSTGRES_USER": parsed.username,
            "POSTGRES_PASSWORD": unquote(parsed.password or "")}


def eventsourcing_save(application, per_transaction):
    appointment = Appointment(session_held_data(str(uuid.uuid4()), "client-1"))
    for _ in range(per_transaction - 1):
        appointment.held(session_held_data(str(uuid.uuid4()), "client-1"))
    application.save(appointment)


def eventsourcing_append(url, events, per_transaction):
    """events/s through Application.save, `per_transaction` events of one aggregate
    a save (the library records them and their notification ids in one transaction)."""
    application = Scheduling(env=eventsourcing_env(url))
    transactions = max(1, events // per_transaction)
    started = time.perf_counter()
    for _ in range(transactions):
        eventsourcing_save(application, per_transaction)
    elapsed = time.perf_counter() - started
    application.close()
    return {"rate": transactions * per_transaction / elapsed}


def eventsourcing_seeded(url, events):
    """An application whose notification log holds `events` events."""
    application = Scheduling(env=eventsourcing_env(url))
    for _ in range(max(1, events // 10)):
        eventsourcing_save(application, 10)
    return application


def eventsourcing_replay(application):
    """events/s of the notification log read in sections and every event
    reconstructed into an in-memory projection (sessions per appointment)."""
    sessions, start, count = {}, 1, 0
    started = time.perf_counter()
    while True:
        section = application.notification_log.select(start, limit=1000)
        if not section:
            break
        for notification in section:
            domain_event = application.mapper.to_domain_event(notification)
            sessions[domain_event.originator_id] = sessions.get(domain_event.originator_id, 0) + 1
        count += len(section)
        start = section[-1].id + 1
    return {"rate": count / (time.perf_counter() - started)}


# -- the raw floor: one database --------------------------------------------------------

SCHEMA = {
    "sqlite": """
        CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id VARCHAR(36) NOT NULL UNIQUE, stream_id VARCHAR(255) NOT NULL,
            version INTEGER NOT NULL, type VARCHAR(255) NOT NULL, envelope TEXT NOT NULL,
            UNIQUE (stream_id, version));
        CREATE TABLE outbox (position INTEGER PRIMARY KEY REFERENCES events (position));
        CREATE TABLE processed (event_id VARCHAR(36) PRIMARY KEY);
        CREATE TABLE charges (charge_id VARCHAR(36) PRIMARY KEY,
            cause_id VARCHAR(36) NOT NULL, client_id VARCHAR(36) NOT NULL,
            minutes INTEGER NOT NULL, committed_at DOUBLE PRECISION NOT NULL);
    """,
    "postgresql": """
        CREATE TABLE events (position BIGSERIAL PRIMARY KEY,
            event_id VARCHAR(36) NOT NULL UNIQUE, stream_id VARCHAR(255) NOT NULL,
            version INTEGER NOT NULL, type VARCHAR(255) NOT NULL, envelope TEXT NOT NULL,
            UNIQUE (stream_id, version));
        CREATE TABLE outbox (position BIGINT PRIMARY KEY REFERENCES events (position));
        CREATE TABLE processed (event_id VARCHAR(36) PRIMARY KEY);
        CREATE TABLE charges (charge_id VARCHAR(36) PRIMARY KEY,
            cause_id VARCHAR(36) NOT NULL, client_id VARCHAR(36) NOT NULL,
            minutes INTEGER NOT NULL, committed_at DOUBLE PRECISION NOT NULL);
    """,
}


class RawDatabase:
    """One connection, sqlite3 or psycopg2, from a SQLAlchemy URL. SQLite in WAL with
    the synchronous level Praxis leaves it at (the default, FULL); PostgreSQL with
    the server's default commit, as Praxis's."""

    def __init__(self, url):
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30,
                                              isolation_level=None, check_same_thread=False)
            self.connection.execute("PRAGMA journal_mode=WAL")
        else:
            self.connection = psycopg2.connect(url)

    def create_schema(self):
        with self.transaction() as cursor:
            for statement in SCHEMA["sqlite" if self.is_sqlite else "postgresql"].split(";"):
                if statement.strip():
                    cursor.execute(statement)

    def sql(self, statement):
        return statement.replace("%s", "?") if self.is_sqlite else statement

    @contextmanager
    def transaction(self):
        cursor = self.connection.cursor()
        if self.is_sqlite:
            cursor.execute("BEGIN IMMEDIATE")  # as Praxis's writers: the file lock first
        try:
            yield cursor
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()
        cursor.close()

    def scalar(self, statement, params=()):
        cursor = self.connection.cursor()
        cursor.execute(self.sql(statement), params)
        value = cursor.fetchone()[0]
        cursor.close()
        if not self.is_sqlite:
            self.connection.rollback()  # end the read transaction psycopg2 opened
        return value

    def rows(self, statement, params=()):
        cursor = self.connection.cursor()
        cursor.execute(self.sql(statement), params)
        found = cursor.fetchall()
        cursor.close()
        if not self.is_sqlite:
            self.connection.rollback()
        return found

    def insert_event(self, cursor, envelope):
        """The event row and its outbox row (inside the caller's transaction)."""
        params = (envelope["id"], envelope["subject"], envelope["sequence"], envelope["type"],
                  json.dumps(envelope))
        if self.is_sqlite:
            cursor.execute("INSERT INTO events (event_id, stream_id, version, type, envelope)"
                           " VALUES (?, ?, ?, ?, ?)", params)
            position = cursor.lastrowid
        else:
            cursor.execute("INSERT INTO events (event_id, stream_id, version, type, envelope)"
                           " VALUES (%s, %s, %s, %s, %s) RETURNING position", params)
            position = cursor.fetchone()[0]
        cursor.execute(self.sql("INSERT INTO outbox (position) VALUES (%s)"), (position,))

    def close(self):
        self.connection.close()


def envelope(type_, subject, sequence, data, causation_id=None):
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/bench/raw",
            "type": type_, "subject": subject, "time": "2026-11-02T10:00:00Z",
            "sequence": sequence, "organisationid": "org-1", "clinicid": "clinic-1",
            "correlationid": str(uuid.uuid4()), "causationid": causation_id, "data": data}


def session_held_envelopes(appointment_id, per_transaction):
    return [envelope("SessionHeld", f"appointment-{appointment_id}", number,
                     session_held_data(appointment_id, "client-1"))
            for number in range(1, per_transaction + 1)]


def raw_append(url, events, per_transaction):
    """events/s inserting event + outbox row, `per_transaction` a transaction."""
    database = RawDatabase(url)
    database.create_schema()
    transactions = max(1, events // per_transaction)
    started = time.perf_counter()
    for _ in range(transactions):
        batch = session_held_envelopes(str(uuid.uuid4()), per_transaction)
        with database.transaction() as cursor:
            for held in batch:
                database.insert_event(cursor, held)
    elapsed = time.perf_counter() - started
    database.close()
    return {"rate": transactions * per_transaction / elapsed}


def raw_consume_one(database, body):
    """The idempotent consumer: processed id, projection row, own event + outbox row,
    in one transaction. False for a redelivery."""
    data = body["data"]
    charge_id = str(uuid.uuid4())
    charge = envelope("ChargeRecorded", f"charge-{charge_id}", 1, {
        "charge_id": charge_id, "appointment_id": data["appointment_id"],
        "client_id": data["client_id"], "minutes": data["minutes"]}, causation_id=body["id"])
    with database.transaction() as cursor:
        cursor.execute(database.sql("INSERT INTO processed (event_id) VALUES (%s) "
                                    "ON CONFLICT DO NOTHING"), (body["id"],))
        if cursor.rowcount == 0:
            return False
        cursor.execute(database.sql(
            "INSERT INTO charges (charge_id, cause_id, client_id, minutes, committed_at)"
            " VALUES (%s, %s, %s, %s, %s)"),
            (charge_id, body["id"], data["client_id"], data["minutes"], time.time()))
        database.insert_event(cursor, charge)
    return True


def raw_consume(database, events):
    """events/s of the raw idempotent consumer fed SessionHeld envelopes (no broker)."""
    bodies = [session_held_envelopes(str(uuid.uuid4()), 1)[0] for _ in range(events)]
    started = time.perf_counter()
    for body in bodies:
        raw_consume_one(database, body)
    return {"rate": events / (time.perf_counter() - started)}


def raw_top_up(database, total):
    """Fill the events table up to `total` rows with charge-shaped events."""
    missing = total - database.scalar("SELECT count(*) FROM events")
    with database.transaction() as cursor:
        for _ in range(max(0, missing)):
            charge_id = str(uuid.uuid4())
            database.insert_event(cursor, envelope("ChargeRecorded", f"charge-{charge_id}", 1, {
                "charge_id": charge_id, "appointment_id": str(uuid.uuid4()),
                "client_id": "client-1", "minutes": 50}))


def raw_rebuild(database):
    """events/s of select + json.loads + executemany into a freshly created table."""
    started = time.perf_counter()
    with database.transaction() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rebuilt")
        cursor.execute("CREATE TABLE rebuilt (charge_id VARCHAR(36) PRIMARY KEY, "
                       "client_id VARCHAR(36) NOT NULL, minutes INTEGER NOT NULL)")
        cursor.execute("SELECT envelope FROM events ORDER BY position")
        rows = [json.loads(stored)["data"] for (stored,) in cursor.fetchall()]
        cursor.executemany(database.sql(
            "INSERT INTO rebuilt (charge_id, client_id, minutes) VALUES (%s, %s, %s)"),
            [(d["charge_id"], d["client_id"], d["minutes"]) for d in rows])
    return {"rate": len(rows) / (time.perf_counter() - started)}


# -- the raw floor: a hand-written durable pipeline ---------------------------------------

EXCHANGE, QUEUE = "bench.events", "bench.sessions"
CHARGES_EXCHANGE = "bench.charges"  # no queue: charges leave as billing's do here


def amqp_connection(amqp_uri):
    parsed = urlparse(amqp_uri)
    connection = amqp.Connection(
        host=f"{parsed.hostname}:{parsed.port or 5672}", userid=unquote(parsed.username),
        password=unquote(parsed.password), virtual_host=unquote(parsed.path[1:]) or "/",
        heartbeat=0)
    connection.connect()
    return connection


class HandWrittenPipeline:
    """Raw append + outbox -> a relay publishing batches with publisher confirms ->
    a durable queue -> the raw idempotent consumer (ack after commit) + projection."""

    BATCH = 500

    def __init__(self, url_factory, amqp_uri):
        self.url_factory, self.amqp_uri = url_factory, amqp_uri

    def __enter__(self):
        producer_url = self.url_factory()
        self.producer = RawDatabase(producer_url)
        self.producer.create_schema()
        # The relay's own connection: psycopg2 yields to other green threads mid-query.
        self.outbox = RawDatabase(producer_url)
        consumer_url = self.url_factory()
        self.consumer = RawDatabase(consumer_url)
        self.consumer.create_schema()
        self.charges_outbox = RawDatabase(consumer_url)  # its relay's, as billing has one
        self.reader = RawDatabase(consumer_url)  # counting beside the consumer's writes
        with amqp_connection(self.amqp_uri) as connection:
            channel = connection.channel()
            for exchange in (EXCHANGE, CHARGES_EXCHANGE):
                channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
            channel.queue_declare(QUEUE, durable=True, auto_delete=False)
            channel.queue_bind(QUEUE, EXCHANGE, routing_key="#")
        self.running = True
        self.wake, self.charges_wake = threading.Event(), threading.Event()
        self.threads = [eventlet.spawn(self._relay, self.outbox, EXCHANGE, self.wake),
                        eventlet.spawn(self._relay, self.charges_outbox, CHARGES_EXCHANGE,
                                       self.charges_wake),
                        eventlet.spawn(self._consume)]
        return self

    def __exit__(self, *exc):
        self.running = False
        self.wake.set()
        self.charges_wake.set()
        for thread in self.threads:
            thread.wait()
        for database in (self.producer, self.outbox, self.consumer, self.charges_outbox,
                         self.reader):
            database.close()

    def append(self):
        (held,) = session_held_envelopes(str(uuid.uuid4()), 1)
        with self.producer.transaction() as cursor:
            self.producer.insert_event(cursor, held)
        self.wake.set()
        return held["id"]

    def _relay(self, database, exchange, wake):
        connection = amqp_connection(self.amqp_uri)
        channel = connection.channel()
        channel.confirm_select()
        unconfirmed, nacked = set(), []

        def on_ack(tag, multiple):
            unconfirmed.difference_update(
                {t for t in unconfirmed if t <= tag} if multiple else {tag})

        def on_nack(tag, multiple):
            nacked.append(tag)
            on_ack(tag, multiple)

        channel.events["basic_ack"].add(on_ack)
        channel.events["basic_nack"].add(on_nack)
        tag = 0
        while self.running:
            rows = database.rows(
                "SELECT o.position, e.envelope FROM outbox o JOIN events e "
                "ON e.position = o.position ORDER BY o.position LIMIT %s", (self.BATCH,))
            if not rows:
                wake.wait(0.5)
                wake.clear()
                continue
            for _position, stored in rows:
                tag += 1
                unconfirmed.add(tag)
                channel.basic_publish(amqp.Message(stored, delivery_mode=2),
                                      exchange=exchange, routing_key="org-1.event")
            while unconfirmed:
                connection.drain_events(timeout=10)
            if nacked:  # the rows stay: the whole batch goes again on the next pass
                nacked.clear()
                continue
            with database.transaction() as cursor:
                cursor.executemany(database.sql("DELETE FROM outbox WHERE position = %s"),
                                   [(position,) for position, _ in rows])
        connection.close()

    def _consume(self):
        connection = amqp_connection(self.amqp_uri)
        channel = connection.channel()
        channel.basic_qos(0, 100, False)

        def on_message(message):
            raw_consume_one(self.consumer, json.loads(message.body))
            channel.basic_ack(message.delivery_tag)
            self.charges_wake.set()

        channel.basic_consume(QUEUE, callback=on_message)
        while self.running:
            try:
                connection.drain_events(timeout=0.5)
            except TimeoutError:
                continue
        connection.close()

    def committed(self):
        return self.reader.scalar("SELECT count(*) FROM charges")

    def commit_times(self):
        """{SessionHeld id: wall-clock time its charge row was written, in its transaction}."""
        return dict(self.reader.rows("SELECT cause_id, committed_at FROM charges"))
