"""What every service's property test checks (issue 13): a recorded history of other
services' events, delivered to a fresh application's `consume()` once in order and
once shuffled with duplicates, ends in the same read models and the same events of
the service's own, and a rebuild of the store gives those read models again.

A test gives `deliver` a `make(url)` that builds the application and runs its own
commands (clinics, fee schedules, clients, sessions: whatever the history needs in
place first), and the events. The clock stands still at FIXED_NOW and uuid4 counts
from 1 while `make` runs, so two fresh applications start identical.
"""
import random
import sys
import tempfile
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from unittest import mock

from sqlalchemy import func, select

from shared import timeutil
from shared.envelope import Event
from shared.events import catalogue
from shared.projection import rebuild
from shared.store import events_table
from shared.timeutil import iso

FIXED_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def event_id(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def published(service, name, data, subject, sequence, time, organisation_id, clinic_id):
    """An event as the producer's store would publish it (checked against its schema);
    `deliver` says which version of its stream it follows (`chained`)."""
    event = Event(id=event_id(service, subject, sequence, name), source=f"/praxis/{service}",
                  type=catalogue.latest_type(service, name), subject=subject,
                  time=iso(time), data=data, sequence=sequence,
                  organisationid=organisation_id, clinicid=clinic_id,
                  correlationid=event_id("correlation", subject, sequence))
    catalogue.validate(event)
    return event


def chained(events):
    """The events, each naming the version of its stream published before it, as the
    producer's store stamps them (a version not in the history is one of the
    producer's private events): a shuffled delivery then holds an event until the
    one before it is applied (shared/deferred.py)."""
    versions = {}
    for event in events:
        versions.setdefault((event.service, event.subject), set()).add(event.sequence)
    out = []
    for event in events:
        before = [v for v in versions[(event.service, event.subject)] if v < event.sequence]
        out.append(replace(event, previoussequence=max(before, default=0)))
    return out


class Producers:
    """Other services publishing a history: each stream's events numbered from 1."""

    def __init__(self, organisation_id, clinic_id):
        self.organisation_id, self.clinic_id = organisation_id, clinic_id
        self.events, self._sequences = [], {}

    def publish(self, service, name, data, subject, time):
        sequence = self._sequences[subject] = self._sequences.get(subject, 0) + 1
        event = published(service, name, data, subject, sequence, time,
                          self.organisation_id, self.clinic_id)
        self.events.append(event)
        return event


_now = [FIXED_NOW]


@contextmanager
def frozen_clock():
    """utc_now() stands still (at FIXED_NOW unless `clock_at` moves it) wherever Praxis
    reads it (modules import it by name)."""
    real = timeutil.utc_now  # before shared.timeutil's own name is patched too
    with ExitStack() as stack:
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in ("shared", "services") \
                    and getattr(module, "utc_now", None) is real:
                stack.enter_context(mock.patch.object(module, "utc_now", lambda: _now[0]))
        yield


@contextmanager
def clock_at(moment):
    """Inside frozen_clock: a command done at `moment` (a session held when it ended)."""
    before, _now[0] = _now[0], moment
    try:
        yield
    finally:
        _now[0] = before


@contextmanager
def counted_uuids():
    """uuid4 as a counter: the same commands make the same ids in two applications."""
    counter = iter(range(1, 10 ** 9))
    with mock.patch.object(uuid, "uuid4", lambda: uuid.UUID(int=next(counter))):
        yield


@contextmanager
def fresh(make, url=None):
    """(application, position its own setup ended at)."""
    with tempfile.TemporaryDirectory() as folder, frozen_clock():
        with counted_uuids():
            application = make(url or f"sqlite:///{folder}/store.db")
        with application.store.read() as conn:
            setup_end = conn.execute(select(func.max(events_table.c.position))).scalar() or 0
        try:
            yield application, setup_end
        finally:
            application.store.engine.dispose()


def feed(application, events):
    with frozen_clock():
        for event in events:
            application.consume(event.to_dict())


def redelivered(events, seed):
    """Every event, half of them twice, in an order of the seed's."""
    out = events + random.Random(seed).sample(events, k=len(events) // 2)
    random.Random(seed + 1).shuffle(out)
    return out


def snapshot(application):
    with application.store.read() as conn:
        return application.store.projection.snapshot(conn)


def own_events(application, after=0):
    """The events the service appended itself after `after`, as a sorted list.
    Their ids stay (reactions derive them); their stream sequence does not, since
    two reactions to one stream may legitimately append in either order; their
    times are the frozen clock's."""
    return sorted((e.id, e.type, e.subject, repr(sorted(e.data.items())))
                  for _position, e in application.store.read_all(
                      after=after, limit=10 ** 6, origin=application.service))


def outcome(application, after=0):
    return snapshot(application), own_events(application, after)


def differences(got, expected):
    """What a failing comparison says: the tables (or events) only one side has."""
    if isinstance(got, dict):
        return {name: differences(got[name], expected.get(name, []))
                for name in got if got[name] != expected.get(name)}
    return {"only here": sorted(set(got) - set(expected)),
            "only in order": sorted(set(expected) - set(got))}


def deliver(make, events, seed, url=None, inspect=None):
    """Feed `events` (other services', taken or not) in order to one fresh
    application (SQLite) and redelivered (shuffled, with duplicates) to another (on
    `url`, else SQLite); assert nothing is left deferred or held (for a gap), own
    events, read models (on one engine: rows print differently on another) and a
    rebuild agree. Returns
    `inspect(application)` of the in-order one (and asserts the other's is the same)."""
    inspect = inspect or (lambda application: None)
    events = chained(events)
    with fresh(make) as (in_order, setup_end):
        feed(in_order, events)
        assert in_order.deferred_reactions() == []
        reference, seen = outcome(in_order, setup_end), inspect(in_order)
    with fresh(make, url) as (application, setup_end):
        feed(application, redelivered(events, seed))
        assert application.deferred_reactions() == []
        not_taken = {e.id for e in events if (e.service, e.name) not in application.subscriptions}
        with application.store.read() as conn:  # accounted by position, never kept
            kept = set(conn.execute(select(events_table.c.event_id)).scalars())
        assert not_taken & kept == set()
        got = outcome(application, setup_end)
        assert got[1] == reference[1], differences(got[1], reference[1])  # own events
        if url is None:  # the same read models, row for row
            assert got[0] == reference[0], differences(got[0], reference[0])
        assert inspect(application) == seen
        with frozen_clock():
            rebuild(application.store)
        rebuilt = snapshot(application)  # a replay of the store gives the same rows
        assert rebuilt == got[0], differences(rebuilt, got[0])
    return seen
