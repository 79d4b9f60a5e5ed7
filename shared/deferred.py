"""Deferred reactions: a consumed event whose reaction needs a fact the service
does not have yet (billing's SessionHeld before the client's ClientRegistered).

The event itself is recorded and projected as usual; only its reaction waits
here, in the same transaction, keyed by what it waits for. The unit of work
that records the awaited fact runs the waiting reactions, in the order their
events arrived (shared/application.py). Not a read model: a rebuild keeps it,
and reactions are never re-run by a replay.
"""
from sqlalchemy import Column, DateTime, ForeignKey, String, Table, delete, func, insert, \
    select, update

from .store import Position, events_table, store_metadata

deferred_table = Table(
    "deferred_reactions", store_metadata,
    Column("position", Position, ForeignKey("events.position"), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("type", String(255), nullable=False),
    Column("waiting_for", String(255), nullable=False, index=True),
    Column("reason", String(64), nullable=False),
    Column("deferred_at", DateTime(timezone=True), nullable=False),
)


def defer(conn, event, waiting_for, reason, now):
    position = conn.execute(select(events_table.c.position)
                            .where(events_table.c.event_id == event.id)).scalar_one()
    if conn.execute(select(deferred_table.c.position)
                    .where(deferred_table.c.position == position)).first() is not None:
        conn.execute(update(deferred_table).where(deferred_table.c.position == position)
                     .values(waiting_for=waiting_for, reason=reason))
        return
    conn.execute(insert(deferred_table).values(
        position=position, event_id=event.id, type=event.type, waiting_for=waiting_for,
        reason=reason, deferred_at=now))


def waiting(conn, waiting_for):
    """[(position, envelope)] of the reactions waiting for `waiting_for`, oldest first."""
    return conn.execute(
        select(deferred_table.c.position, events_table.c.envelope)
        .join(events_table, events_table.c.position == deferred_table.c.position)
        .where(deferred_table.c.waiting_for == waiting_for)
        .order_by(deferred_table.c.position)).all()


def resolve(conn, position):
    conn.execute(delete(deferred_table).where(deferred_table.c.position == position))


def is_deferred(conn, position):
    return conn.execute(select(deferred_table.c.position)
                        .where(deferred_table.c.position == position)).first() is not None


def counts(conn):
    """{reason: number of reactions waiting}."""
    return dict(conn.execute(select(deferred_table.c.reason, func.count())
                             .group_by(deferred_table.c.reason)).all())


def listing(conn, limit=100):
    rows = conn.execute(select(deferred_table).order_by(deferred_table.c.position)
                        .limit(limit)).all()
    return [{"event_id": r.event_id, "type": r.type, "reason": r.reason,
             "waiting_for": r.waiting_for, "deferred_at": r.deferred_at.isoformat()}
            for r in rows]
