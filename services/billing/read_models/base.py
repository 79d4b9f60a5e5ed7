"""What every read model of billing shares: the metadata, the projection and the
helpers. Handlers are deterministic functions of the event: no clock, no
randomness. Money columns hold integer minor units."""

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, and_, insert, select, \
    update

from shared import care_team
from shared.projection import Projection, upsert  # noqa: F401 (the kernel's, re-exported)
from shared.timeutil import aware  # noqa: F401 (re-exported)

metadata = MetaData()
projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)

Money = BigInteger().with_variant(Integer, "sqlite")


def tenant(primary_key=False):
    return [Column("organisation_id", String(64), nullable=False, primary_key=primary_key),
            Column("clinic_id", String(64), nullable=False, primary_key=primary_key)]


def of_tenant(table, event, **key):
    """The WHERE clause for a row of the event's organisation and clinic."""
    return and_(table.c.organisation_id == event.organisationid,
                table.c.clinic_id == event.clinicid, *(table.c[k] == v for k, v in key.items()))


def add(conn, table, key, amounts):
    """Add `amounts` to the row at `key`, creating it at zero first (not an upsert:
    the new values are sums of what the row holds, computed in the UPDATE)."""
    where = and_(*(table.c[k] == v for k, v in key.items()))
    if conn.execute(select(*[table.c[k] for k in key]).where(where)).first() is None:
        zeros = {c.name: 0 for c in table.columns if c.name not in key}
        conn.execute(insert(table).values(**key, **zeros))
    conn.execute(update(table).where(where).values(
        **{name: table.c[name] + value for name, value in amounts.items()}))


def month_of(day):
    return day.isoformat()[:7]
