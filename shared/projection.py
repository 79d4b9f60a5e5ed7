"""Read models: tables derived only from events, rebuildable by replay."""
import hashlib

from sqlalchemy import MetaData, delete, insert, select, text, update

from .store import read_model_schema_table


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
        for fn in self._handlers.get(event.name, ()):
            fn(conn, event)

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
    condition = [table.c[name] == value for name, value in key.items()]
    if conn.execute(select(*[table.c[name] for name in key]).where(*condition)).first() is None:
        conn.execute(insert(table).values(**key, **values))
    elif values:
        conn.execute(update(table).where(*condition).values(**values))


def rebuild(store):
    """Drop the service's read models and replay its whole store into them."""
    projection = store.projection
    count = 0
    with store.write() as conn:
        if not store.is_sqlite:
            # Appends wait while the tables are replaced (SQLite's file lock does this).
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": store.APPEND_LOCK_KEY})
        projection.metadata.drop_all(conn)
        projection.metadata.create_all(conn)
        for _position, event in store.iterate_all(conn):
            projection.apply(conn, event)
            count += 1
        conn.execute(delete(read_model_schema_table))
        conn.execute(insert(read_model_schema_table).values(fingerprint=projection.fingerprint()))
    return count


def ensure_current(store):
    """Rebuild the read models when their recorded shape is not this release's
    (a new database, or tables a newer version changed); return whether it did."""
    with store.read() as conn:
        recorded = conn.execute(select(read_model_schema_table.c.fingerprint)).scalar()
    if recorded == store.projection.fingerprint():
        return False
    rebuild(store)
    return True
