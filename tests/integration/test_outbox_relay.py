"""The relay on the real broker: confirmed publishing, outages, late commits."""
import json
import threading
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import update

from shared.envelope import CONTENT_TYPE, Context, NewEvent
from shared.events import catalogue
from shared.outbox import OutboxRelay
from shared.store import EventStore, events_table

pytestmark = pytest.mark.integration
CONTEXT = Context("org-1", "clinic-1")


def registered(client_id):
    return NewEvent("ClientRegistered", {
        "client_id": client_id, "name": "Ada", "date_of_birth": "1990-01-02",
        "contact": {}, "registered_at": "2026-01-01T09:00:00Z"})


@pytest.fixture
def store(database_url):
    store = EventStore(database_url, "intake", catalogue)
    store.create_schema()
    yield store
    store.engine.dispose()


@pytest.fixture
def subscriber(amqp_uri):
    """A queue bound to intake.events, as a subscribing system would bind one."""
    exchange = Exchange("intake.events", type="topic", durable=True)
    queue = Queue(f"test-{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key="#")
    with Connection(amqp_uri) as connection:
        bound = queue(connection.default_channel)
        bound.declare()

        def received():
            messages = []
            while (message := bound.get(no_ack=True)) is not None:
                messages.append(message)
            return messages
        yield received


def append(store, count):
    events = []
    for _ in range(count):
        client_id = str(uuid.uuid4())
        with store.unit_of_work() as uow:
            events += uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
    return events


def test_relay_publishes_every_committed_event_once_in_order(store, amqp_uri, subscriber):
    events = append(store, 25)
    relay = OutboxRelay(store, amqp_uri, batch_size=10)
    try:
        assert relay.drain() == 25
        assert relay.drain() == 0
    finally:
        relay.close()
    messages = subscriber()
    assert [m.properties["message_id"] for m in messages] == [e.id for e in events]
    first = messages[0]
    assert first.content_type == CONTENT_TYPE
    assert first.delivery_info["routing_key"] == "org-1.ClientRegistered"
    assert first.properties["delivery_mode"] == 2
    assert json.loads(first.body) == events[0].to_dict()
    assert store.outbox_status()[0] == 0


def test_event_committed_while_relay_is_down_goes_out_when_it_is_back(store, amqp_uri,
                                                                      subscriber):
    (event,) = append(store, 1)
    down = OutboxRelay(store, "amqp://guest:guest@127.0.0.1:1/", confirm_timeout=1)
    with pytest.raises(Exception):
        down.relay_once()
    assert store.outbox_status()[0] == 1  # kept, not lost
    back = OutboxRelay(store, amqp_uri)
    try:
        assert back.drain() == 1
    finally:
        back.close()
    assert [m.properties["message_id"] for m in subscriber()] == [event.id]


def test_an_event_stored_before_sequence_was_padded_leaves_padded(store, amqp_uri,
                                                                  subscriber):
    (event,) = append(store, 1)
    old = json.loads(event.to_json())
    old["sequence"] = str(event.sequence)  # as earlier releases stored it
    with store.write() as conn:
        conn.execute(update(events_table).where(events_table.c.event_id == event.id)
                     .values(envelope=json.dumps(old)))
    relay = OutboxRelay(store, amqp_uri)
    try:
        assert relay.drain() == 1
    finally:
        relay.close()
    (message,) = subscriber()
    assert json.loads(message.body)["sequence"] == "00000000000000000001"


def test_a_late_commit_is_not_skipped(database_url, amqp_uri, subscriber):
    """T1 appends first but commits last; the relay passes in between and after."""
    stores = [EventStore(database_url, "intake", catalogue) for _ in range(2)]
    stores[0].create_schema()
    relay = OutboxRelay(stores[0], amqp_uri)
    first_appended, release_first = threading.Event(), threading.Event()
    ids = {}

    def slow_writer():
        client_id = str(uuid.uuid4())
        with stores[0].unit_of_work() as uow:
            ids["slow"] = uow.append(f"client-{client_id}", 0, CONTEXT,
                                     [registered(client_id)])[0].id
            first_appended.set()
            release_first.wait(10)

    def quick_writer():
        ids["quick"] = append(stores[1], 1)[0].id

    slow = threading.Thread(target=slow_writer)
    slow.start()
    first_appended.wait(10)
    quick = threading.Thread(target=quick_writer)
    quick.start()
    try:
        relay.drain()  # sees no committed event of T1 yet
        release_first.set()
        slow.join(10)
        quick.join(10)
        relay.drain()
    finally:
        relay.close()
    published = [m.properties["message_id"] for m in subscriber()]
    assert sorted(published) == sorted([ids["slow"], ids["quick"]])
    assert stores[0].outbox_status()[0] == 0
    for store in stores:
        store.engine.dispose()


def test_background_relay_wakes_on_commit(store, amqp_uri, subscriber):
    import eventlet
    from tests.support import wait_until

    relay = OutboxRelay(store, amqp_uri, poll_interval=30)  # only a commit can wake it
    runner = eventlet.spawn(relay.run)
    try:
        (event,) = append(store, 1)
        received = []
        wait_until(lambda: received.extend(subscriber()) or received, timeout=10,
                   message="the relay to publish after the commit")
        assert [m.properties["message_id"] for m in received] == [event.id]
    finally:
        relay.stop()
        runner.wait()
        relay.close()


def test_one_relay_at_a_time_per_postgresql_database(postgres_url, amqp_uri, subscriber):
    """Replicas take turns: while one relays, another publishes nothing, so events of
    one stream can never overtake each other on the wire."""
    from sqlalchemy import text

    from shared.outbox import RELAY_LOCK_KEY

    store = EventStore(postgres_url, "intake", catalogue)
    store.create_schema()
    (event,) = append(store, 1)
    relay = OutboxRelay(store, amqp_uri)
    try:
        with store.engine.connect() as other_replica:
            with other_replica.begin():
                other_replica.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                      {"key": RELAY_LOCK_KEY})
                assert relay.relay_once() == 0
                assert store.outbox_status()[0] == 1
        assert relay.relay_once() == 1
    finally:
        relay.close()
        store.engine.dispose()
    assert [m.properties["message_id"] for m in subscriber()] == [event.id]


def _open_transactions(store):
    """Transactions of the store's database open right now (but the asker's)."""
    if store.is_sqlite:
        import sqlite3
        try:  # no connection of ours in use, and the file's write lock free
            raw = sqlite3.connect(store.engine.url.database, timeout=0, isolation_level=None)
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("ROLLBACK")
            raw.close()
        except sqlite3.OperationalError:
            return ["the write lock"]
        return ["a pooled connection"] * store.engine.pool.checkedout()
    from sqlalchemy import create_engine, text
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")
            ).scalars().all()
    finally:
        engine.dispose()


def test_the_relay_waits_on_the_broker_outside_any_transaction(store, amqp_uri, subscriber):
    """While it publishes and awaits confirms no transaction of the store is open:
    a slow broker holds no lock and no snapshot."""
    append(store, 3)
    relay = OutboxRelay(store, amqp_uri)
    publish, seen = relay._publish_batch, []

    def publish_and_look(rows):
        seen.append(_open_transactions(store))
        return publish(rows)

    relay._publish_batch = publish_and_look
    try:
        assert relay.drain() == 3
    finally:
        relay.close()
    assert seen == [[]]
    assert len(subscriber()) == 3
