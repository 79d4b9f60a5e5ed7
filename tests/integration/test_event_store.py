"""The event store on both engines: concurrency, ordering, dedupe, atomicity."""
import threading
import uuid

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from shared.envelope import Context, NewEvent
from shared.errors import ConcurrencyError, InvalidEvent
from shared.events import catalogue
from shared.projection import Projection, rebuild
from shared.store import EventStore, events_table, outbox_table
from tests.support import make_event

pytestmark = pytest.mark.integration

metadata = MetaData()
names = Table("names", metadata, Column("client_id", String(36), primary_key=True),
              Column("name", String(200)))
projection = Projection(metadata)


@projection.on("ClientRegistered")
def _name(conn, event):
    conn.execute(insert(names).values(client_id=event.data["client_id"], name=event.data["name"]))


CONTEXT = Context("org-1", "clinic-1")


def registered(client_id, name="Ada"):
    return NewEvent("ClientRegistered", {
        "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
        "contact": {"email": None, "phone": None}, "registered_at": "2026-01-01T09:00:00Z"})


@pytest.fixture
def store(database_url):
    store = EventStore(database_url, "intake", catalogue, projection)
    store.create_schema()
    yield store
    store.engine.dispose()


def test_append_stamps_the_envelope_and_fills_outbox_and_read_model(store):
    client_id = str(uuid.uuid4())
    with store.unit_of_work() as uow:
        (event,) = uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
    assert event.type == "praxis.intake.ClientRegistered.v1"
    assert event.source == "/praxis/intake" and event.subject == f"client-{client_id}"
    assert event.sequence == 1 and event.organisationid == "org-1"
    assert event.dataschema == ("https://praxis.example/events/schemas/"
                                "intake.ClientRegistered.v1.json")
    (stored,) = store.read_stream(f"client-{client_id}")
    assert stored.to_json() == event.to_json()
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(outbox_table)).scalar() == 1
        assert conn.execute(select(names.c.name)).scalar() == "Ada"


def test_wrong_expected_version_is_a_conflict(store):
    client_id = str(uuid.uuid4())
    with store.unit_of_work() as uow:
        uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
    with pytest.raises(ConcurrencyError):
        with store.unit_of_work() as uow:
            uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
    assert len(store.read_stream(f"client-{client_id}")) == 1


def test_concurrent_appends_to_one_stream_exactly_one_wins(database_url):
    """Two writers read version 0, then both append: one commits, one gets a conflict."""
    stores = [EventStore(database_url, "intake", catalogue, projection) for _ in range(2)]
    stores[0].create_schema()
    stream = f"client-{uuid.uuid4()}"
    barrier = threading.Barrier(2)
    outcomes = []

    def writer(store, name):
        version = len(store.read_stream(stream))  # both see 0
        barrier.wait()
        try:
            with store.unit_of_work() as uow:
                uow.append(stream, version, CONTEXT, [registered(stream[7:], name)])
            outcomes.append("won")
        except ConcurrencyError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(s, n)) for s, n in zip(stores, "AB")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "won"]
    assert len(stores[0].read_stream(stream)) == 1
    for store in stores:
        store.engine.dispose()


def test_a_blind_write_appends_at_whatever_version_and_the_last_writer_wins(database_url):
    """append_blind is for setting a value outright (a PUT): both concurrent writers
    commit, one after the other, and the stream ends with the later one's value."""
    stores = [EventStore(database_url, "intake", catalogue) for _ in range(2)]  # no read model
    stores[0].create_schema()
    stream = f"client-{uuid.uuid4()}"
    barrier = threading.Barrier(2)
    errors = []

    def writer(store, name):
        barrier.wait()
        try:
            with store.unit_of_work() as uow:
                uow.append_blind(stream, CONTEXT, [registered(stream[7:], name)])
        except Exception as error:  # noqa: BLE001 - the test reports any
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(s, n)) for s, n in zip(stores, "AB")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    events = stores[0].read_stream(stream)
    assert [e.sequence for e in events] == [1, 2]
    assert {e.data["name"] for e in events} == {"A", "B"}
    for store in stores:
        store.engine.dispose()


def test_failed_unit_of_work_leaves_nothing(store):
    client_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        with store.unit_of_work() as uow:
            uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
            raise RuntimeError("the service's own change failed")
    assert store.read_all() == []
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(outbox_table)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(names)).scalar() == 0


def test_invalid_payload_is_refused_on_append(store):
    bad = NewEvent("ClientRegistered", {"client_id": "not-a-uuid", "name": ""})
    with pytest.raises(InvalidEvent) as refused:
        with store.unit_of_work() as uow:
            uow.append("client-x", 0, CONTEXT, [bad])
    assert {"client_id", "name", "date_of_birth"} <= set(refused.value.fields)
    assert store.read_all() == []


def test_foreign_event_recorded_once_and_not_relayed(store):
    client_id = str(uuid.uuid4())
    foreign = make_event("intake", "ClientRegistered", registered(client_id).data,
                         f"client-{client_id}")
    with store.unit_of_work() as uow:
        assert uow.record_foreign(foreign) == "applied"
    with store.unit_of_work() as uow:
        assert uow.record_foreign(foreign) == "duplicate"
    assert [e.id for _, e in store.read_all()] == [foreign.id]
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(outbox_table)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(names)).scalar() == 1


def test_read_all_after_a_position(store):
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for client_id in ids:
        with store.unit_of_work() as uow:
            uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
    everything = store.read_all()
    assert [e.data["client_id"] for _, e in everything] == ids
    after_second = store.read_all(after=everything[1][0])
    assert [e.data["client_id"] for _, e in after_second] == ids[2:]


def test_rebuild_gives_the_same_rows(store):
    for n in range(3):
        client_id = str(uuid.uuid4())
        with store.unit_of_work() as uow:
            uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id, f"C{n}")])
    with store.read() as conn:
        live = projection.snapshot(conn)
    assert rebuild(store) == 3
    with store.read() as conn:
        assert projection.snapshot(conn) == live


def test_old_versions_are_upcast_on_read(store):
    """A v2 registered later reads v1 events as v2 through the upcaster hook."""
    from marshmallow import Schema, fields
    from shared.registry import EventRegistry

    registry = EventRegistry()
    registry.register("intake", "ClientRegistered", 1, type(catalogue._specs[
        ("intake", "ClientRegistered", 1)].schema))

    class V2(Schema):
        client_id = fields.UUID(required=True)
        display_name = fields.String(required=True)

    registry.register("intake", "ClientRegistered", 2, V2)

    @registry.upcaster("intake", "ClientRegistered", 1)
    def _v1_to_v2(data):
        return {"client_id": data["client_id"], "display_name": data["name"]}

    client_id = str(uuid.uuid4())
    with store.unit_of_work() as uow:
        uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id, "Grace")])
    (position, stored), = store.read_all()
    upcast = registry.upcast(stored)
    assert upcast.type == "praxis.intake.ClientRegistered.v2"
    assert upcast.data == {"client_id": client_id, "display_name": "Grace"}
    registry.validate(upcast)
    # The store keeps the original JSON: replay gives back what was published.
    with store.read() as conn:
        envelope = conn.execute(select(events_table.c.envelope)).scalar()
    assert '"praxis.intake.ClientRegistered.v1"' in envelope


def test_foreign_event_at_a_taken_position_is_refused_for_good(store):
    client_id = str(uuid.uuid4())
    data = registered(client_id).data
    first = make_event("intake", "ClientRegistered", data, f"client-{client_id}")
    impostor = make_event("intake", "ClientRegistered", data, f"client-{client_id}")
    with store.unit_of_work() as uow:
        uow.record_foreign(first)
    with pytest.raises(InvalidEvent, match="already holds"):
        with store.unit_of_work() as uow:
            uow.record_foreign(impostor)
    assert [e.id for _, e in store.read_all()] == [first.id]


def test_private_events_are_stored_but_never_relayed_or_fed(store):
    from shared.auth import Principal
    from shared.registry import EventRegistry
    from marshmallow import Schema, fields

    class Thought(Schema):
        text = fields.String(required=True)

    registry = EventRegistry()
    registry.register("intake", "ThoughtRecorded", 1, Thought, private=True)
    registry.register("intake", "ClientRegistered", 1, type(catalogue._specs[
        ("intake", "ClientRegistered", 1)].schema))
    store.registry = registry
    client_id = str(uuid.uuid4())
    with store.unit_of_work() as uow:
        uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
        uow.append(f"thoughts-{client_id}", 0, CONTEXT,
                   [NewEvent("ThoughtRecorded", {"text": "private"})])
    assert len(store.read_all()) == 2
    assert store.outbox_status()[0] == 1  # only the published one waits for the relay

    from shared.application import Application

    class Feed(Application):
        service = "intake"

        def __init__(self, store):
            self.store = store

    feed = Feed(store).event_feed(Principal("u", "admin", "org-1", ("*",)), 0, 100)
    assert [item["event"]["type"] for item in feed] == ["praxis.intake.ClientRegistered.v1"]


def test_read_models_of_another_shape_are_rebuilt_at_start(database_url):
    """A release that adds a read-model table finds it filled from past events."""
    from shared.projection import ensure_current

    first = EventStore(database_url, "intake", catalogue, projection)
    first.create_schema()
    assert ensure_current(first) is True      # a new database: recorded shape set
    assert ensure_current(first) is False     # same shape: nothing to do
    client_id = str(uuid.uuid4())
    with first.unit_of_work() as uow:
        uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id, "Grace")])
    first.engine.dispose()

    newer_metadata = MetaData()
    Table("names", newer_metadata, Column("client_id", String(36), primary_key=True),
          Column("name", String(200)))
    births = Table("births", newer_metadata, Column("client_id", String(36), primary_key=True),
                   Column("date_of_birth", String(10)))
    newer = Projection(newer_metadata)
    newer.on("ClientRegistered")(_name)

    @newer.on("ClientRegistered")
    def _birth(conn, event):
        conn.execute(insert(births).values(client_id=event.data["client_id"],
                                           date_of_birth=event.data["date_of_birth"]))

    second = EventStore(database_url, "intake", catalogue, newer)
    second.create_schema()
    assert ensure_current(second) is True
    with second.read() as conn:
        assert conn.execute(select(births.c.date_of_birth)).scalar() == "1990-01-02"
        assert conn.execute(select(names.c.name)).scalar() == "Grace"
    second.engine.dispose()
