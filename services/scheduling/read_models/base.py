"""What every read model of scheduling shares: the metadata, the projection and
two helpers. Handlers are deterministic functions of the event (no clock)."""
from sqlalchemy import MetaData, insert, select, update

from shared import care_team
from shared.projection import Projection
from shared.timeutil import parse_time

metadata = MetaData()
projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)


def aware(moment):
    """SQLite gives back naive datetimes; they are UTC."""
    return parse_time(moment.isoformat()) if moment is not None else None


def upsert(conn, table, key, values):
    """Insert the row named by `key` (column -> value), or update it with `values`."""
    condition = [table.c[name] == value for name, value in key.items()]
    if conn.execute(select(*[table.c[name] for name in key]).where(*condition)).first() is None:
        conn.execute(insert(table).values(**key, **values))
    elif values:
        conn.execute(update(table).where(*condition).values(**values))
