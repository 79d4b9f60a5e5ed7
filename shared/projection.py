"""Read models: tables derived only from events, rebuildable by replay."""
from sqlalchemy import MetaData


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

    def apply(self, conn, event):
        for fn in self._handlers.get(event.name, ()):
            fn(conn, event)

    def snapshot(self, conn):
        """Every read-model row, sorted: what a rebuild must reproduce."""
        rows = {}
        for table in self.metadata.sorted_tables:
            result = conn.execute(table.select())
            rows[table.name] = sorted(tuple(map(repr, r)) for r in result)
        return rows


def rebuild(store):
    """Drop the service's read models and replay its whole store into them."""
    projection = store.projection
    count = 0
    with store.write() as conn:
        projection.metadata.drop_all(conn)
        projection.metadata.create_all(conn)
        for _position, event in store.iterate_all(conn):
            projection.apply(conn, event)
            count += 1
    return count
