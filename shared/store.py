"""The event store: SQLAlchemy tables shared by every service's own database.

- `events` holds the service's own events and every foreign event it takes, in
  each stream's order (so its read models can be rebuilt without asking anyone).
  A unique (stream_id, version) pair is the optimistic concurrency check; a
  unique event_id makes a redelivered foreign event a no-op. Each published own
  event names the stream's published version before it (previoussequence).
- `foreign_positions` keeps how far a foreign stream got by events the service
  does not take: their position, never their payload.
- `outbox` lists own events the broker has not yet confirmed. Rows are written
  in the same transaction as the events, and deleted only after a confirm, so
  an event is published if and only if its append committed, and a late commit
  is never skipped (the relay reads what is left, not what is after a cursor).

On PostgreSQL appends take a transaction-scoped advisory lock, so positions
are assigned in commit order and `read_all(after=p)` never skips a late commit.
On SQLite, writes are serialised by the file lock (BEGIN IMMEDIATE) and by a
lock in the process, so a green thread never waits on the file while another
green thread of the same process holds it.
"""
import threading
import uuid
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text,
    UniqueConstraint, bindparam, create_engine, delete, event as sa_event, func, insert, select, text,
    update,
)
from sqlalchemy.exc import IntegrityError

from . import audit, config, encryption, idempotency, metrics
from .envelope import (  # noqa: F401
    Context, Event, NewEvent, dataschema_uri, format_time, utc_now)
from .errors import ConcurrencyError, InvalidEvent

Position = BigInteger().with_variant(Integer, "sqlite")

store_metadata = MetaData()

events_table = Table(
    "events", store_metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream_id", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(255), nullable=False),
    Column("origin", String(64), nullable=False),  # the service that wrote it first
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("envelope", Text, nullable=False),
    # False for private events (e.g. psychotherapy notes): never relayed or fed.
    Column("published", Boolean, nullable=False, default=True),
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
)

outbox_table = Table(
    "outbox", store_metadata,
    Column("position", Position, ForeignKey("events.position"), primary_key=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# Per foreign stream, the last version accounted for by an event the service does not
# take (shared/subscriptions.py): its position is kept, never its payload.
foreign_positions_table = Table(
    "foreign_positions", store_metadata,
    Column("stream_id", String(255), primary_key=True),
    Column("version", Integer, nullable=False),
)

# The shape of the read models the current rows were built for (shared/projection.py).
read_model_schema_table = Table(
    "read_model_schema", store_metadata,
    Column("fingerprint", String(64), primary_key=True),
)

# Any constant works: it names "appending to this database's events table".
_APPEND_LOCK_KEY = 0x70726178


_file_locks = {}


def _file_lock(url):
    """One lock per SQLite file per process, however many stores open it."""
    return _file_locks.setdefault(url, threading.Lock())


def make_engine(url):
    if url.startswith("sqlite"):
        # hide_parameters: a failed statement's error (logged) never lists its values.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True)

        @sa_event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # Let SQLAlchemy's "begin" hook below emit BEGIN itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # A writer takes the file lock up front: no lock upgrade deadlocks.
            write = connection.get_execution_options().get("praxis_write")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                         hide_parameters=True)


class EventStore:
    APPEND_LOCK_KEY = _APPEND_LOCK_KEY

    def __init__(self, url, service, registry, projection=None, keks=None):
        self.url = url
        self.service = service
        self.source = f"/praxis/{service}"
        self.registry = registry
        self.projection = projection
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = _file_lock(url) if self.is_sqlite else None
        self._listeners = []  # called after a commit that appended own events
        # Sensitive fields are stored sealed under the client's data key.
        self.keyring = encryption.Keyring(
            keks or encryption.KeyEncryptionKeys.parse(config.key_encryption_keys()))

    def create_schema(self):
        with self.write() as conn:
            store_metadata.create_all(conn)
            encryption.metadata.create_all(conn)
            audit.create_schema(conn)
            idempotency.create_schema(conn)
            if self.projection is not None:
                self.projection.metadata.create_all(conn)

    def on_commit(self, callback):
        self._listeners.append(callback)

    @contextmanager
    def write(self):
        """A write transaction on a raw SQLAlchemy connection."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as conn:
                conn.execution_options(praxis_write=True)
                with conn.begin():
                    yield conn
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def read(self):
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def unit_of_work(self):
        """Events appended here and the read-model changes made here commit together."""
        with self.write() as conn:
            # First: the request's Idempotency-Key row commits with its events, and a
            # concurrent twin waits here (shared/idempotency.py).
            keyed = idempotency.claim(self, conn)
            uow = UnitOfWork(self, conn)
            yield uow
            # The request's audit row commits with its events (shared/audit.py).
            access = audit.record_change(self, conn, uow.appended)
        if keyed is not None:
            keyed.claimed = True
        if access is not None:
            access.recorded = True
        for event in uow.appended:
            metrics.EVENTS_APPENDED.labels(self.service, event.name).inc()
        if uow.appended:
            for callback in self._listeners:
                callback()

    # -- reading ---------------------------------------------------------
    def _decode(self, envelope, conn=None):
        return self.registry.upcast(self.opened(envelope, conn))

    def opened(self, envelope, conn=None):
        """A stored envelope as the Event it was appended as, sensitive fields opened
        (ERASED for an erased client's), not upcast."""
        event = Event.stored(envelope)
        if encryption.SEALED not in envelope:
            return event  # most events: nothing sealed to look for, no key to fetch
        names = [name for name in self.registry.sensitive_fields(event.type)
                 if encryption.is_sealed(event.data.get(name))]
        if not names:
            return event
        client_id = str(event.data["client_id"])
        if conn is None:
            with self.read() as own:
                key = self.keyring.key_for_reading(own, client_id)
        else:
            key = self.keyring.key_for_reading(conn, client_id)
        data = dict(event.data)
        for name in names:
            data[name] = self.keyring.open_value(key, event.id, name, data[name])
        return replace(event, data=data)

    def sealed(self, event, conn, now):
        """The envelope JSON to store: sensitive fields sealed under the client's data
        key (ERASED when the client was erased before this event arrived)."""
        names = [name for name in self.registry.sensitive_fields(event.type)
                 if event.data.get(name) is not None]
        if not names:
            return event.to_json()
        key = self.keyring.key_for_writing(conn, str(event.data["client_id"]), now)
        data = dict(event.data)
        for name in names:
            data[name] = encryption.ERASED if key is None else \
                self.keyring.seal_value(key, event.id, name, data[name])
        return replace(event, data=data).to_json()

    def erase_client(self, conn, client_id):
        """Crypto-shred the client's data key in this store (inside a write)."""
        self.keyring.destroy(conn, str(client_id), utc_now())

    def read_stream(self, stream_id, conn=None):
        params = {"stream_id": stream_id}
        if conn is not None:
            return [self._decode(row.envelope, conn) for row in conn.execute(_STREAM, params)]
        with self.read() as own:
            return [self._decode(row.envelope, own) for row in own.execute(_STREAM, params)]

    def read_all(self, after=0, limit=1000, conn=None, origin=None):
        """[(position, Event)] after `position`, own and consumed events alike."""
        query, params = _ALL, {"after": after, "limit": limit}
        if origin is not None:
            query, params["origin"] = _ALL_OF_ORIGIN, origin
        if conn is not None:
            return [(position, self._decode(envelope, conn))
                    for position, envelope in conn.execute(query, params).all()]
        with self.read() as own:
            return [(position, self._decode(envelope, own))
                    for position, envelope in own.execute(query, params).all()]

    # -- outbox ----------------------------------------------------------
    def outbox_status(self):
        """(backlog, age in seconds of the oldest unsent event)."""
        with self.read() as conn:
            row = conn.execute(select(func.count(), func.min(outbox_table.c.recorded_at))
                               .select_from(outbox_table)).one()
        count, oldest = row
        if oldest is None:
            return count, 0.0
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        return count, max(0.0, (utc_now() - oldest).total_seconds())

    def pending(self, conn, limit):
        """[(position, envelope json)] of unsent events, oldest first, as published:
        sensitive fields opened (the broker carries them to authorised consumers)."""
        query = (select(outbox_table.c.position, events_table.c.envelope)
                 .join(events_table, events_table.c.position == outbox_table.c.position)
                 .order_by(outbox_table.c.position).limit(limit))
        return [(row.position, self.opened(row.envelope, conn).to_json()
                 if encryption.SEALED in row.envelope else row.envelope)
                for row in conn.execute(query)]

    def mark_sent(self, conn, positions):
        conn.execute(delete(outbox_table).where(outbox_table.c.position.in_(positions)))

    def ping(self):
        with self.read() as conn:
            conn.execute(text("SELECT 1"))


# Built once: hot statements reuse SQLAlchemy's compiled cache without rebuilding.
_STREAM_VERSION = (select(func.coalesce(func.max(events_table.c.version), 0))
                   .where(events_table.c.stream_id == bindparam("stream_id")))
_LAST_PUBLISHED = (select(func.coalesce(func.max(events_table.c.version), 0))
                   .where(events_table.c.stream_id == bindparam("stream_id"),
                          events_table.c.published.is_(True)))
_POSITION_HOLDER = (select(events_table.c.event_id)
                    .where(events_table.c.stream_id == bindparam("stream_id"),
                           events_table.c.version == bindparam("version")))
_PASSED = (select(foreign_positions_table.c.version)
           .where(foreign_positions_table.c.stream_id == bindparam("stream_id")))
_PASS = (update(foreign_positions_table)
         .where(foreign_positions_table.c.stream_id == bindparam("passed_stream"))
         .values(version=bindparam("passed_version")))
_FIRST_PASS = insert(foreign_positions_table)
# A stream's events: built once (not per load, which a reaction does several times).
_STREAM = (select(events_table.c.envelope)
           .where(events_table.c.stream_id == bindparam("stream_id"))
           .order_by(events_table.c.version))
# A page of every event after a position (a replay reads the whole store by these).
_ALL = (select(events_table.c.position, events_table.c.envelope)
        .where(events_table.c.position > bindparam("after"))
        .order_by(events_table.c.position).limit(bindparam("limit")))
_ALL_OF_ORIGIN = _ALL.where(events_table.c.origin == bindparam("origin"))
_SEEN = select(events_table.c.position).where(events_table.c.event_id == bindparam("event_id"))
_INSERT_EVENT = insert(events_table)
_INSERT_OUTBOX = insert(outbox_table)
_APPEND_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def foreign_stream(event):
    """Where a consumed event is kept: its producer's stream, named by the producer."""
    return f"{event.service}/{event.subject}"


class UnitOfWork:
    def __init__(self, store, conn):
        self.store = store
        self.conn = conn
        self.appended = []
        self._locked = False

    def load(self, stream_id):
        return self.store.read_stream(stream_id, conn=self.conn)

    # -- the repository of aggregates (shared/aggregate.py) ------------------
    def get(self, aggregate_type, *key):
        """The aggregate with this key as its stream says it is now (a new one, at
        version 0, when the stream is empty)."""
        return aggregate_type.from_events(key, self.load(aggregate_type.stream_of(*key)))

    def save(self, aggregate, context: Context, new_events):
        """Append what a command decided from `aggregate`, expecting its stream still
        at the version it was loaded at (409 ConcurrencyError when another writer got
        there first); the aggregate then includes them, so it can be saved again."""
        if not new_events:
            return []
        appended = self.append(aggregate.stream_id, aggregate.version, context, new_events)
        for event in appended:
            aggregate.apply(event)
        return appended

    def version(self, stream_id):
        return self.conn.execute(_STREAM_VERSION, {"stream_id": stream_id}).scalar_one()

    def lock(self):
        """Serialise with every other writer of this store until commit.

        Appends take it anyway; call it first when a decision reads state that
        a concurrent writer could change (on SQLite every write holds it).
        """
        if not self._locked and not self.store.is_sqlite:
            self.conn.execute(_APPEND_LOCK, {"key": _APPEND_LOCK_KEY})
        self._locked = True

    def append_blind(self, stream_id, context: Context, new_events):
        """A blind write: append at whatever version the stream is at. Only for a
        command that sets a value outright without reading it first (a PUT of a
        clinic's settings): the last writer wins by design. Every command that decides
        from what it read appends with `append` at the version it read."""
        self.lock()
        return self.append(stream_id, self.version(stream_id), context, new_events)

    def append(self, stream_id, expected_version, context: Context, new_events):
        """Append to `stream_id`, which must be at `expected_version` (the version the
        decision was taken on: 409 ConcurrencyError if another writer got there
        first); apply read models."""
        self.lock()
        current = self.version(stream_id)
        if current != expected_version:
            raise ConcurrencyError(
                f"stream {stream_id} is at version {current}, expected {expected_version}")
        registry = self.store.registry
        now = utc_now()
        appended = []
        last_published = None
        for offset, new in enumerate(new_events, start=1):
            type_ = registry.latest_type(self.store.service, new.name)
            published = not registry.is_private(type_)
            previous = None
            if published:
                if last_published is None:
                    last_published = self.conn.execute(
                        _LAST_PUBLISHED, {"stream_id": stream_id}).scalar_one()
                previous, last_published = last_published, expected_version + offset
            event = Event(
                id=new.id or str(uuid.uuid4()),
                source=self.store.source,
                type=type_,
                subject=stream_id, time=format_time(now), data=new.data,
                sequence=expected_version + offset,
                organisationid=context.organisation_id, clinicid=context.clinic_id,
                correlationid=context.correlation_id, causationid=context.causation_id,
                traceparent=context.traceparent,
                # the published JSON Schema (docs/events/schemas/); private ones have none
                dataschema=dataschema_uri(type_) if published else None,
                previoussequence=previous,
            )
            registry.validate(event)
            if new.id is not None and self.conn.execute(_SEEN, {"event_id": new.id}).first():
                raise ConcurrencyError(f"event {new.id} was appended already")
            position = self._insert(event, stream_id, self.store.service, now, published)
            if published:
                self.conn.execute(_INSERT_OUTBOX, {"position": position, "recorded_at": now})
            self._project(event)
            appended.append(event)
        self.appended.extend(appended)
        return appended

    def stream_head(self, stream_id):
        """The highest version of a foreign stream accounted for here, in order:
        recorded in `events`, or passed as an event this service does not take."""
        recorded = self.conn.execute(_STREAM_VERSION, {"stream_id": stream_id}).scalar_one()
        passed = self.conn.execute(_PASSED, {"stream_id": stream_id}).scalar()
        return max(recorded, passed or 0)

    def record_foreign(self, event, subscribed=True):
        """Account for a consumed event, in its stream's order: 'applied' (kept and
        projected when `subscribed`, else only its position is kept: no payload of
        an event the service does not take), 'duplicate', or 'gap' (the event before
        it has not been accounted for: nothing done, the caller holds it)."""
        self.lock()  # before the checks: a concurrent redelivery waits, then sees it
        if self.conn.execute(_SEEN, {"event_id": event.id}).first() is not None:
            return "duplicate"
        stream_id = foreign_stream(event)
        holder = self.conn.execute(
            _POSITION_HOLDER, {"stream_id": stream_id, "version": event.sequence}).scalar()
        if holder is not None:
            # The producer's stream cannot hold two events at one position: this
            # one is forged or corrupt, and retrying will never make it fit.
            raise InvalidEvent(f"{stream_id} position {event.sequence} already holds "
                               f"event {holder}, not {event.id}", {"sequence": ["taken"]})
        head = self.stream_head(stream_id)
        previous = event.previoussequence
        if previous is not None:
            if event.sequence <= head:
                return "duplicate"  # of an event taken by its position only
            if previous < head:
                raise InvalidEvent(f"{stream_id} is at version {head}, past the version "
                                   f"{previous} that {event.id} follows",
                                   {"previoussequence": ["behind the stream"]})
            if previous > head:
                return "gap"
        # else stored by a release that did not stamp previoussequence: what came before
        # it is unknown, so it is taken on arrival, as that release's consumers did.
        if subscribed:
            self._insert(event, stream_id, event.service, utc_now())
            self._project(event)
        elif event.sequence > head:
            self.pass_position(stream_id, event.sequence)
        return "applied"

    def pass_position(self, stream_id, version):
        """Account for a version of a foreign stream whose event is not kept."""
        if self.conn.execute(_PASS, {"passed_stream": stream_id,
                                     "passed_version": version}).rowcount == 0:
            self.conn.execute(_FIRST_PASS, {"stream_id": stream_id, "version": version})

    def _insert(self, event, stream_id, origin, now, published=True):
        # The checks above run under the append lock, so a unique violation here
        # means a writer outside that protocol: refuse, the transaction rolls back.
        try:
            result = self.conn.execute(_INSERT_EVENT, {
                "event_id": event.id, "stream_id": stream_id, "version": event.sequence,
                "type": event.type, "origin": origin, "organisation_id": event.organisationid,
                "clinic_id": event.clinicid, "recorded_at": now,
                "envelope": self.store.sealed(event, self.conn, now),
                "published": published})
        except IntegrityError:
            raise ConcurrencyError(
                f"stream {stream_id} already has version {event.sequence} or event {event.id}")
        return result.inserted_primary_key[0]

    def _project(self, event):
        if self.store.projection is not None:
            self.store.projection.apply(self.conn, self.store.registry.upcast(event))
