"""What a consumer keeps waiting in its store, in the transaction that acks the
delivery (shared/application.py).

Deferred reactions: a consumed event whose reaction needs a fact the service
does not have yet (billing's SessionHeld before the client's ClientRegistered).
The event itself is recorded and projected as usual; only its reaction waits
here, keyed by what it waits for. The unit of work that records the awaited
fact runs the waiting reactions, in the order their events arrived. Not a read
model: a rebuild keeps it, and reactions are never re-run by a replay.

Held events (reason "gap"): an event whose predecessor in its stream has not
arrived. Nothing of it is applied: it waits here, not in `events` (so a rebuild,
which replays `events` in order, never sees it early), and is applied when its
predecessor is. An event the service does not take is held by its position
only, never its payload. One held past PRAXIS_GAP_WAIT_SECONDS is dead-lettered
with the reason "gap" and forgotten, so a replay of the letter is taken afresh.
"""
from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text, \
    UniqueConstraint, delete, func, insert, select, update

from .errors import InvalidEvent
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


GAP = "gap"

held_table = Table(
    "held_events", store_metadata,
    Column("event_id", String(36), primary_key=True),
    Column("stream_id", String(255), nullable=False),  # as in events (producer/subject)
    Column("version", Integer, nullable=False),
    Column("predecessor", Integer, nullable=False),  # the version it waits for
    Column("type", String(255), nullable=False),
    Column("envelope", Text),  # sealed as in events; NULL: an event the service does not take
    Column("held_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("stream_id", "version", name="uq_held_stream_version"),
    Index("ix_held_events_waiting", "stream_id", "predecessor"),
)


def hold(conn, event, stream_id, envelope, now):
    """Keep an event until its predecessor arrives; False when it is held already.
    Another event held at its position means one of them is forged or corrupt."""
    row = conn.execute(select(held_table.c.event_id).where(
        held_table.c.stream_id == stream_id, held_table.c.version == event.sequence)).first()
    if row is not None:
        if row.event_id != event.id:
            raise InvalidEvent(f"{stream_id} position {event.sequence} is held for event "
                               f"{row.event_id}, not {event.id}", {"sequence": ["taken"]})
        return False
    conn.execute(insert(held_table).values(
        event_id=event.id, stream_id=stream_id, version=event.sequence,
        predecessor=event.previoussequence, type=event.type, envelope=envelope, held_at=now))
    return True


def next_held(conn, stream_id, version):
    """The held event that comes right after `version` of the stream, or None."""
    return conn.execute(select(held_table).where(
        held_table.c.stream_id == stream_id, held_table.c.predecessor == version)).first()


def release(conn, event_id):
    conn.execute(delete(held_table).where(held_table.c.event_id == event_id))


def held_in(conn, stream_id):
    """How many events of the stream are held."""
    return conn.execute(select(func.count()).select_from(held_table)
                        .where(held_table.c.stream_id == stream_id)).scalar()


def overdue(conn, before, limit=100):
    """Held events (with a payload) that have waited since before `before`, oldest
    first. A position held without one waits on: there is nothing to dead-letter,
    and the events after it, which have one, are dead-lettered in its place."""
    return conn.execute(select(held_table)
                        .where(held_table.c.held_at < before,
                               held_table.c.envelope.is_not(None))
                        .order_by(held_table.c.held_at).limit(limit)).all()


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
    """{reason: number of reactions or events waiting}."""
    found = dict(conn.execute(select(deferred_table.c.reason, func.count())
                              .group_by(deferred_table.c.reason)).all())
    held = conn.execute(select(func.count()).select_from(held_table)).scalar()
    if held:
        found[GAP] = held
    return found


def listing(conn, limit=100):
    rows = conn.execute(select(deferred_table).order_by(deferred_table.c.position)
                        .limit(limit)).all()
    held = conn.execute(select(held_table).order_by(held_table.c.held_at)
                        .limit(limit)).all()
    return [{"event_id": r.event_id, "type": r.type, "reason": r.reason,
             "waiting_for": r.waiting_for, "deferred_at": r.deferred_at.isoformat()}
            for r in rows] + \
        [{"event_id": r.event_id, "type": r.type, "reason": GAP,
          "waiting_for": f"{r.stream_id} version {r.predecessor}",
          "deferred_at": r.held_at.isoformat(), "stream": r.stream_id,
          "version": r.version, "payload_kept": r.envelope is not None}
         for r in held]
