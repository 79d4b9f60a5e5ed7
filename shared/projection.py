"""Read models: tables derived only from events, rebuildable by replay.

A rebuild (a release changed the tables' shape, or `make rebuild`) never stops
the store. The new tables are built beside the live ones, in short batches that
read the events in position order while other writers keep appending; once the
replay is near the head, one short transaction under the append lock applies the
rest, swaps the new tables in and records their fingerprint. Until then the live
tables are untouched, so an interrupted rebuild leaves them as they were and the
next attempt starts again.

Beside the live tables, the read models' names resolve to the new ones while the
store's own tables (events, outbox, ...) still resolve to the live store: on
PostgreSQL a schema first on the search path, on SQLite a database file opened
as `main` with the store attached. (SQLAlchemy's schema_translate_map would move
the store's tables too: they have the read models' schema, None.)
"""
import fcntl
import hashlib
import logging
import os
import secrets
import threading
import time

from sqlalchemy import MetaData, bindparam, delete, event as sa_event, insert, select, text, \
    update
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import Select
from sqlalchemy.sql.util import find_tables

from .encryption import ERASED

from . import metrics
from .faults import ReadModelsRebuilding, is_transient
from .store import events_table, make_engine, read_model_schema_table

log = logging.getLogger(__name__)

REBUILD_LOCK_KEY = 0x72656275  # "one rebuild at a time in this database" (session lock)
PAGE = 1000            # events read per query, their inserts written together
YIELD_EVERY = 100      # events between yields: green threads (/livez) run meanwhile
# A batch commits after this long: the new tables are no one's but the rebuild's, so
# long transactions hold nothing up (the append lock is taken only by the swap).
BATCH_SECONDS = 5.0
LOG_EVERY_SECONDS = 10.0


class Projection:
    """Maps event names to functions fn(conn, event) that update read-model tables.

    Handlers must be deterministic functions of the event (no clock, no
    randomness), so a replay gives the same rows as the live path.
    """

    def __init__(self, metadata: MetaData):
        self.metadata = metadata
        self._handlers = {}

    def on(self, *names):
        def decorate(fn):
            for name in names:
                self._handlers.setdefault(name, []).append(fn)
            return fn
        return decorate

    def handled(self):
        """The event names some handler takes."""
        return sorted(self._handlers)

    def apply(self, conn, event):
        if event.name != "ClientErased" and ERASED in event.data.values():
            # An erased client's event (a replay, or a late delivery): its rows went
            # with ClientErased and what it carried is shredded; nothing to keep.
            return
        for fn in self._handlers.get(event.name, ()):
            fn(conn, event)

    def erases_clients(self, keep=()):
        """On ClientErased, every row of the client goes from every table with a
        client_id column but those in `keep` (billing keeps its amounts). Deleted
        rather than left to the shredded key: a replay of the events (their fields
        reading as erased) deletes them again, so a rebuild gives the same state."""
        kept = {table.name for table in keep}

        def erased(conn, event):
            client_id = str(event.data["client_id"])
            for table in self.metadata.sorted_tables:
                if table.name not in kept and "client_id" in table.c:
                    conn.execute(delete(table).where(table.c.client_id == client_id))
        self.on("ClientErased")(erased)

    def fingerprint(self):
        """A digest of the read-model tables' shape: it changes when a release
        changes them, and then the read models are rebuilt (see ensure_current)."""
        shape = sorted((table.name, column.name, str(column.type), column.nullable,
                        column.primary_key)
                       for table in self.metadata.sorted_tables for column in table.columns)
        return hashlib.sha256(repr(shape).encode()).hexdigest()

    def snapshot(self, conn):
        """Every read-model row, sorted: what a rebuild must reproduce."""
        rows = {}
        for table in self.metadata.sorted_tables:
            result = conn.execute(table.select())
            rows[table.name] = sorted(tuple(map(repr, r)) for r in result)
        return rows


def upsert(conn, table, key, values):
    """The one upsert of every read model: insert the row named by `key` (column ->
    value) with `values`, or update that row's `values`. Applying it twice gives the
    same row, as a redelivery must."""
    # The values go as execute parameters, not into the statements: a statement of the
    # same columns is then compiled once and taken from SQLAlchemy's cache, where
    # .values(...) built and keyed a new one for every event (most of a replay's time).
    found = conn.execute(_upsert_statements(table, tuple(key), tuple(values))[0], key).first()
    if found is None:
        conn.execute(insert(table), {**key, **values})
    elif values:
        conn.execute(_upsert_statements(table, tuple(key), tuple(values))[1],
                     {**{f"key_{name}": value for name, value in key.items()}, **values})


_upsert_cache = {}


def _upsert_statements(table, key_names, value_names):
    """(select of the row by its key, update of `value_names` at the key), built once per
    table and set of columns."""
    cache_key = (table, key_names, value_names)
    found = _upsert_cache.get(cache_key)
    if found is None:
        found = _upsert_cache[cache_key] = (
            select(*[table.c[name] for name in key_names]).where(
                *[table.c[name] == bindparam(name) for name in key_names]),
            update(table).where(
                *[table.c[name] == bindparam(f"key_{name}") for name in key_names]))
    return found


# -- the fingerprint -----------------------------------------------------------
def recorded_fingerprint(conn):
    return conn.execute(select(read_model_schema_table.c.fingerprint)).scalar()


def _record_fingerprint(conn, projection):
    conn.execute(delete(read_model_schema_table))
    conn.execute(insert(read_model_schema_table).values(fingerprint=projection.fingerprint()))


def is_current(store):
    with store.read() as conn:
        return recorded_fingerprint(conn) == store.projection.fingerprint()


def has_events(store):
    with store.read() as conn:
        return conn.execute(select(events_table.c.position).limit(1)).first() is not None


# -- the new tables beside the live ones ------------------------------------------
class _PostgresShadow:
    """A schema of its own per attempt: two builders (a lost lock) never share one."""

    def __init__(self, store):
        self.store = store
        self.prefix = f"{store.service}_rebuild_"
        # Not uuid4: tests replace it with a counter to make two applications alike.
        self.schema = self.prefix + secrets.token_hex(4)
        with store.read() as conn:
            self.live = conn.execute(text("SELECT current_schema()")).scalar()
        self.engine = make_engine(store.url)
        quote = self.engine.dialect.identifier_preparer.quote

        @sa_event.listens_for(self.engine, "connect")
        def _search_path(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET search_path TO {quote(self.schema)}, {quote(self.live)}")
            cursor.close()
            dbapi_connection.commit()

    def create(self, metadata):
        quote = self.engine.dialect.identifier_preparer.quote
        with self.engine.begin() as conn:
            # Left by an attempt that died: only the holder of the rebuild lock is here.
            stale = conn.execute(text(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :prefix)"),
                {"prefix": self.prefix}).scalars().all()
            for schema in stale:
                conn.execute(text(f"DROP SCHEMA {quote(schema)} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {quote(self.schema)}"))
            # checkfirst would find the live tables through the search path.
            metadata.create_all(conn, checkfirst=False)

    def lock_appends(self, conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": self.store.APPEND_LOCK_KEY})

    def swap(self, conn, metadata):
        quote = self.engine.dialect.identifier_preparer.quote
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f"DROP TABLE IF EXISTS {quote(self.live)}.{quote(table.name)} "
                              "CASCADE"))
        for table in metadata.sorted_tables:
            conn.execute(text(f"ALTER TABLE {quote(self.schema)}.{quote(table.name)} "
                              f"SET SCHEMA {quote(self.live)}"))
        conn.execute(text(f"DROP SCHEMA {quote(self.schema)}"))

    def discard(self):
        quote = self.engine.dialect.identifier_preparer.quote
        try:
            with self.engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {quote(self.schema)} CASCADE"))
        finally:
            self.engine.dispose()


class _SqliteShadow:
    """A database file next to the store's, opened as `main`, the store attached as
    `live`; the rebuild lock keeps it to one builder."""

    def __init__(self, store):
        self.store = store
        self.live_path = _sqlite_path(store)
        self.path = self.live_path + ".rebuild"
        self._remove()
        self.engine = make_engine(f"sqlite:///{self.path}")

        @sa_event.listens_for(self.engine, "connect")
        def _attach(dbapi_connection, _record):
            # This file is thrown away if the machine stops before the swap: no fsync.
            dbapi_connection.execute("PRAGMA main.synchronous = OFF")
            dbapi_connection.execute("ATTACH DATABASE ? AS live", (self.live_path,))

    def create(self, metadata):
        with self.engine.begin() as conn:
            metadata.create_all(conn, checkfirst=False)  # a new file

    def lock_appends(self, conn):
        """Taken by BEGIN IMMEDIATE, which locks the attached store too."""

    def swap(self, conn, metadata):
        # Rows are copied across: SQLite cannot move a table to another file.
        quote = self.engine.dialect.identifier_preparer.quote
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        for table in reversed(metadata.sorted_tables):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS live.{quote(table.name)}")
        # From here on this connection's statements (the fingerprint too) go to `live`.
        metadata.create_all(conn.execution_options(schema_translate_map={None: "live"}),
                            checkfirst=False)
        for table in metadata.sorted_tables:
            columns = ", ".join(quote(column.name) for column in table.columns)
            conn.exec_driver_sql(f"INSERT INTO live.{quote(table.name)} ({columns}) "
                                 f"SELECT {columns} FROM main.{quote(table.name)}")

    def discard(self):
        self.engine.dispose()
        self._remove()

    def _remove(self):
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(self.path + suffix)
            except FileNotFoundError:
                pass


def _sqlite_path(store):
    path = store.engine.url.database
    if not path or path == ":memory:":
        raise ValueError("a rebuild beside the live tables needs a SQLite file, not memory")
    return os.path.abspath(path)


# -- the rebuild -------------------------------------------------------------------
class Progress:
    """What a rebuild has done: a gauge, a log line every LOG_EVERY_SECONDS."""

    def __init__(self, service):
        self.service = service
        self.replayed = self.stored = 0
        self._logged = time.monotonic()

    def started(self, stored):
        self.replayed, self.stored = 0, stored
        self._set()
        log.info("%s read models: rebuilding from %d events beside the live tables",
                 self.service, stored)

    def advanced(self, count):
        self.replayed += count
        self.stored = max(self.stored, self.replayed)
        self._set()
        if time.monotonic() - self._logged >= LOG_EVERY_SECONDS:
            self._logged = time.monotonic()
            log.info("%s read models: %s", self.service, self.describe())

    def describe(self):
        share = self.replayed / self.stored if self.stored else 1.0
        return f"{self.replayed} of {self.stored} events replayed ({share:.0%})"

    def _set(self):
        metrics.READ_MODEL_REBUILD_EVENTS.labels(self.service, "replayed").set(self.replayed)
        metrics.READ_MODEL_REBUILD_EVENTS.labels(self.service, "stored").set(self.stored)


class BatchedReplay:
    """The connection a replay's handlers run on, for one page of events.

    Writes: a plain insert of one row (`conn.execute(insert(table), {...})`, the
    shape of most projection writes) is held and written with the others of its
    table in one executemany; any other statement first writes the held rows of the
    tables it touches (every held row when it names none it can tell: text, driver
    SQL), so each statement sees the rows as the live path would have left them.
    Held rows go table by table in the metadata's dependency order, each table's in
    the order they came: foreign keys hold. What an insert returns is never read by
    handlers (a held one gives None).

    Reads: a select of read-model tables only gives the rows it gave last time with
    the same parameters until a write touches one of its tables (the new tables are
    the rebuild's alone: nothing else changes them). Handlers read the same rows
    again and again (a client's care team at every session)."""

    def __init__(self, conn, metadata):
        self.conn = conn
        # By name: a table may be included in several services' metadata (care teams).
        self._order = {table.name: number
                       for number, table in enumerate(metadata.sorted_tables)}
        self._held = {}    # (table name, column names) -> (table, [row])
        self._tables = {}  # id(statement) -> (statement, names of the tables it touches)
        self._read = {}    # table name -> {(id(statement), parameters): frozen result}

    def execute(self, statement, parameters=None, **options):
        if (type(statement) is Insert and type(parameters) is dict and not options
                and _plain(statement) and statement.table.name in self._order):
            table = statement.table
            self._held.setdefault((table.name, tuple(parameters)), (table, []))[1].append(
                parameters)
            self._read.pop(table.name, None)
            return None
        tables = self._touched(statement)
        if isinstance(statement, Select) and tables is not None and not options \
                and tables.issubset(self._order):
            return self._select(statement, parameters, tables)
        self._changed(tables)
        if self._held:
            self._flush(tables)
        return self.conn.execute(statement, parameters, **options)

    def __getattr__(self, name):
        # Anything else (exec_driver_sql, ...) may read or write any table.
        self.flush()
        return getattr(self.conn, name)

    def flush(self):
        """Write every held row (at the end of a page, before a commit)."""
        self._flush(None)
        self._changed(None)
        self._tables.clear()

    def _select(self, statement, parameters, tables):
        try:
            key = (id(statement), None if parameters is None
                   else tuple(sorted(parameters.items())))
            hash(key)
        except TypeError:  # a list of values (IN), ...: not kept
            key = None
        first = min(tables, key=self._order.get)
        if key is not None:
            found = self._read.get(first, {}).get(key)
            if found is not None:
                return found()
        if self._held:
            self._flush(tables)
        result = self.conn.execute(statement, parameters)
        if key is None:
            return result
        frozen = result.freeze()
        # Kept under each of its tables: a write to any one of them forgets it.
        for name in tables:
            self._read.setdefault(name, {})[key] = frozen
        return frozen()

    def _changed(self, tables):
        if tables is None:
            self._read.clear()
            return
        for name in tables:
            forgotten = self._read.pop(name, None)
            if forgotten:  # and from its other tables
                for other in self._read.values():
                    for key in forgotten:
                        other.pop(key, None)

    def _touched(self, statement):
        found = self._tables.get(id(statement))
        if found is None or found[0] is not statement:
            try:
                tables = {table.name for table in find_tables(
                    statement, check_columns=True, include_crud=True)}
            except Exception:
                tables = None
            found = self._tables[id(statement)] = (statement, tables or None)
        return found[1]

    def _flush(self, tables):
        """Write the held rows of `tables` (all of them when None)."""
        due = [key for key in self._held if tables is None or key[0] in tables]
        for key in sorted(due, key=lambda key: self._order[key[0]]):
            table, rows = self._held.pop(key)
            self.conn.execute(insert(table), rows)


def _plain(statement):
    """An insert of the values given at execute: nothing of its own to compile."""
    return (statement._values is None and not statement._multi_values
            and not statement._returning and statement._select_names is None
            and statement._post_values_clause is None and not statement._hints
            and not statement._execution_options and not statement._independent_ctes
            and not statement._return_defaults and not statement._inline)


def _catch_up(store, conn, after, progress, limit_seconds=None):
    """Apply events after `after` on `conn`; return (last position, reached the head).
    With `limit_seconds`, stop once that long has passed."""
    started = time.monotonic()
    apply = store.projection.apply
    while True:
        page = store.read_all(after=after, limit=PAGE, conn=conn)
        writes = BatchedReplay(conn, store.projection.metadata)
        for number, (position, event) in enumerate(page, start=1):
            apply(writes, event)
            after = position
            if number % YIELD_EVERY == 0:
                time.sleep(0)  # SQLite and the handlers never yield by themselves
        writes.flush()
        progress.advanced(len(page))
        time.sleep(0)
        if len(page) < PAGE:
            return after, True
        if limit_seconds is not None and time.monotonic() - started >= limit_seconds:
            return after, False


class RebuildStopped(Exception):
    """The process is stopping: the new tables are dropped, the live ones untouched."""


def rebuild(store, progress=None):
    """Replay the whole store into new read-model tables and swap them in (`make
    rebuild`, tests); return how many events were replayed. Appends go on meanwhile:
    they wait only for the swap. Waits while another process rebuilds."""
    lock = RebuildLock(store)
    while not lock.acquire():
        time.sleep(1.0)
    try:
        return _replay_and_swap(store, progress or Progress(store.service))
    finally:
        lock.release()


def _replay_and_swap(store, progress, stopping=None):
    """The rebuild, by the holder of the rebuild lock. Returns None when another
    rebuild swapped new tables in meanwhile (a lost lock). `stopping` (a
    threading.Event), once set, ends it between batches."""
    projection = store.projection
    shadow = (_SqliteShadow if store.is_sqlite else _PostgresShadow)(store)
    try:
        with store.read() as conn:
            before = recorded_fingerprint(conn)
            progress.started(conn.execute(text("SELECT count(*) FROM events")).scalar())
        shadow.create(projection.metadata)
        position = 0
        while True:
            near_head = False
            while not near_head:
                # Short transactions, reading events without taking the append lock.
                with shadow.engine.begin() as conn:
                    position, near_head = _catch_up(store, conn, position, progress,
                                                    BATCH_SECONDS)
                if stopping is not None and stopping.is_set():
                    raise RebuildStopped()
            replayed = progress.replayed
            try:
                swapped = _swap(store, shadow, position, before, progress)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                # A deadlock with a writer that read a live table before it waited for
                # the append lock, or a reader holding one past the lock timeout: the
                # swap rolled back, the new tables are as they were; catch up, retry.
                progress.replayed = replayed
                log.warning("%s read models: swap not done, retrying: %s",
                            store.service, type(exc).__name__)
                time.sleep(1.0)
        if swapped:
            log.info("%s read models: swapped in after %s", store.service,
                     progress.describe())
            return progress.replayed
        return None
    finally:
        shadow.discard()


SWAP_LOCK_TIMEOUT = "2s"  # appends wait on the swap no longer than this for a table


def _swap(store, shadow, position, before, progress):
    """Under the append lock: the last events, the new tables in, their fingerprint;
    False when another rebuild swapped first."""
    projection = store.projection
    lock = store._write_lock
    if lock is not None:
        lock.acquire()  # this process's other writers wait without holding the file
    try:
        with shadow.engine.connect() as conn:
            conn.execution_options(praxis_write=True)
            with conn.begin():
                if not store.is_sqlite:
                    conn.execute(text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'"))
                shadow.lock_appends(conn)
                if recorded_fingerprint(conn) != before:
                    return False
                _catch_up(store, conn, position, progress)
                shadow.swap(conn, projection.metadata)
                _record_fingerprint(conn, projection)
        return True
    finally:
        if lock is not None:
            lock.release()


# -- one rebuild at a time ---------------------------------------------------------
class RebuildLock:
    """Held by the one process rebuilding a store's read models: on PostgreSQL a
    session advisory lock, on SQLite an flock on a file next to the store's (both
    released when the process dies). `acquire()` does not wait: False when taken."""

    def __init__(self, store):
        self.store = store
        self._conn = self._file = None

    def acquire(self):
        if self.store.is_sqlite:
            self._file = open(_sqlite_path(self.store) + ".rebuild-lock", "a")
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                self._file.close()
                self._file = None
                return False
        self._conn = self.store.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT")
        if self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                              {"key": REBUILD_LOCK_KEY}).scalar():
            return True
        self._conn.close()
        self._conn = None
        return False

    def release(self):
        if self._file is not None:
            self._file.close()  # closing the file releases its flock
            self._file = None
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": REBUILD_LOCK_KEY})
            except Exception:
                self._conn.invalidate()  # a dead connection released it already
            self._conn.close()
            self._conn = None


def ensure_current(store, wait=1.0):
    """Rebuild the read models when their recorded shape is not this release's
    (a new database, or tables a newer version changed); return whether it did.
    While another process rebuilds, wait for it (then its shape is current)."""
    return ReadModels(store).ensure_current(wait)


class ReadModels:
    """A process's read models: current, or not yet (then no statement of this
    process reads or writes them: each raises ReadModelsRebuilding, which requests
    answer 503 and consumers wait out uncounted, shared/faults.py)."""

    def __init__(self, store):
        self.store = store
        self.progress = Progress(store.service)
        # or: waiting (another process rebuilds), rebuilding, failed, superseded
        self.state = "current"
        self.failure = None
        self._names = {table.name for table in store.projection.metadata.tables.values()}
        self._stopped = threading.Event()
        self._rebuilt_at_start = False
        if not is_current(store):
            self.state = "waiting"
            sa_event.listen(store.engine, "before_execute", self._refuse)
            if not has_events(store):
                # Nothing to replay (a new database, or tables left by an earlier
                # release): the rebuild is instant, so do it now rather than answer
                # 503 and hold the first deliveries until a background one ends.
                self._rebuilt_at_start = self.ensure_current()

    @property
    def current(self):
        return self.state == "current"

    def describe(self):
        if self.state == "rebuilding":
            return f"rebuilding: {self.progress.describe()}"
        if self.state == "failed":
            return f"rebuild failed, retrying: {self.failure}"
        return {"waiting": "waiting for another process's rebuild",
                "superseded": "replaced by another release's (this process is older)"
                }.get(self.state, "ok")

    def check(self):
        """At each readiness probe: read models another release swapped in since (this
        is a rolling update's old pod) are refused from now on, so its requests and
        consumers leave them to the new pods instead of writing them in an old shape."""
        if self.current and not is_current(self.store):
            self.state = "superseded"
            sa_event.listen(self.store.engine, "before_execute", self._refuse)
            log.warning("%s read models replaced by another release's: not ready",
                        self.store.service)

    def _refuse(self, _conn, statement, *_args):
        if any(table.name in self._names
               for table in find_tables(statement, include_crud=True)):
            raise ReadModelsRebuilding(f"{self.store.service} read models {self.describe()}")

    def ensure_current(self, wait=1.0):
        """Make them current (rebuilding them, or waiting for the process that does);
        return whether this process rebuilt them. Transient failures are waited out."""
        rebuilt, delay = self._rebuilt_at_start, wait
        while not self.current and not self._stopped.is_set():
            lock = RebuildLock(self.store)
            try:
                if not lock.acquire():
                    self.state = "waiting"
                    self._stopped.wait(wait)
                    continue
                if not is_current(self.store):
                    self.state = "rebuilding"
                    rebuilt = _replay_and_swap(self.store, self.progress,
                                               self._stopped) is not None
                self._become_current()
            except RebuildStopped:
                log.info("%s read models: rebuild stopped with the process",
                         self.store.service)
            except Exception as exc:
                self.state, self.failure = "failed", f"{type(exc).__name__}: {exc}"
                (log.warning if is_transient(exc) else log.exception)(
                    "%s read models: rebuild failed, next attempt in %.0fs: %s",
                    self.store.service, delay, exc)
                self._stopped.wait(delay)
                delay = min(delay * 2, 60.0)
            finally:
                lock.release()
        return rebuilt

    def stop(self):
        self._stopped.set()

    def _become_current(self):
        if sa_event.contains(self.store.engine, "before_execute", self._refuse):
            sa_event.remove(self.store.engine, "before_execute", self._refuse)
        self.state = "current"
        log.info("%s read models current", self.store.service)
