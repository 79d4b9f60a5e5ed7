"""Per stream, an event is applied only after the one before it, whatever the broker
does (issue 13): on the real RabbitMQ and on both engines, a stream delivered out of
order with duplicates is applied in order exactly once; one whose predecessor never
comes is dead-lettered "gap" after PRAXIS_GAP_WAIT_SECONDS, and its replay applies
it once the predecessor is there."""
import time
import uuid
from dataclasses import replace

import pytest
from kombu import Connection
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from shared import dead_letters
from shared.application import Application
from shared.consumer import subscribers
from shared.projection import Projection
from shared.runtime import CommonEndpoints, Praxis
from shared.store import events_table
from shared.subscriptions import READ_MODELS, Subscriptions
from tests.support import RunningService, make_event, publish_event, wait_until

pytestmark = pytest.mark.integration

GAP_WAIT_SECONDS = 2

metadata = MetaData()
clients = Table("gap_clients", metadata,
                Column("client_id", String(36), primary_key=True),
                Column("name", String(200), nullable=False),
                Column("revision", Integer, nullable=False))
projection = Projection(metadata)


@projection.on("ClientRegistered")
def _registered(conn, event):
    conn.execute(insert(clients).values(client_id=event.data["client_id"],
                                        name=event.data["name"], revision=1))


@projection.on("ClientDetailsUpdated")
def _updated(conn, event):
    # Last writer wins: only an in-order stream ends at its latest name.
    conn.execute(update(clients).where(clients.c.client_id == event.data["client_id"])
                 .values(name=event.data["changes"]["name"],
                         revision=event.data["details_revision"]))


class GapApplication(Application):
    service = "gapprobe"
    projection = projection
    subscriptions = Subscriptions({("intake", "ClientRegistered"): READ_MODELS,
                                   ("intake", "ClientDetailsUpdated"): "note"})
    applied = []

    def note(self, uow, event, context):
        type(self).applied.append(event.sequence)


class GapProbe(CommonEndpoints, subscribers(GapApplication.subscriptions)):
    name = "gapprobe"
    praxis = Praxis(GapApplication)


QUEUE = "evt-intake--gapprobe"


def stream(client_id, length):
    """A client's stream as intake publishes it: registered, then details updated, with
    an EpisodeOpened (which gapprobe does not take) at version 2."""
    subject = f"client-{client_id}"
    events = [make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada 1", "date_of_birth": "1990-01-02",
        "contact": {}, "registered_at": "2026-01-01T09:00:00Z"}, subject, sequence=1),
        make_event("intake", "EpisodeOpened", {
            "client_id": client_id, "episode_id": str(uuid.uuid4()),
            "opened_at": "2026-01-01T09:00:00Z"}, subject, sequence=2)]
    for version in range(3, length + 1):
        events.append(make_event("intake", "ClientDetailsUpdated", {
            "client_id": client_id, "changes": {"name": f"Ada {version}"},
            "updated_at": "2026-01-01T09:00:00Z", "details_revision": version},
            subject, sequence=version))
    return [replace(event, previoussequence=event.sequence - 1) for event in events]


@pytest.fixture
def gap_wait(monkeypatch):
    monkeypatch.setenv("PRAXIS_GAP_WAIT_SECONDS", str(GAP_WAIT_SECONDS))


@pytest.fixture
def probe(database_url, amqp_uri, gap_wait):
    GapApplication.applied = []
    with RunningService(GapProbe, database_url, amqp_uri) as running:
        yield running


def names(probe):
    with probe.application.store.read() as conn:
        return conn.execute(select(clients.c.name, clients.c.revision)).all()


def kept(probe):
    """The ids of the events in the store, in the order they were applied."""
    with probe.application.store.read() as conn:
        return conn.execute(select(events_table.c.event_id)
                            .order_by(events_table.c.position)).scalars().all()


def queue_depth(amqp_uri, name):
    with Connection(amqp_uri) as connection:
        return connection.default_channel.queue_declare(name, passive=True).message_count


def held(probe):
    return [row for row in probe.application.deferred_reactions() if row["reason"] == "gap"]


def test_a_stream_out_of_order_with_duplicates_is_applied_in_order_exactly_once(probe,
                                                                               amqp_uri):
    client_id = str(uuid.uuid4())
    one, two, three, four = stream(client_id, 4)
    for event in (one, four, two, four, three, one, two):
        publish_event(amqp_uri, event)
    wait_until(lambda: GapApplication.applied == [3, 4] and not held(probe)
               and queue_depth(amqp_uri, QUEUE) == 0, message="the stream applied")
    assert names(probe) == [("Ada 4", 4)]  # as in-order delivery leaves it
    # In order, once each; EpisodeOpened (not taken) by its position only.
    assert kept(probe) == [one.id, three.id, four.id]
    assert queue_depth(amqp_uri, QUEUE + ".dead-letter") == 0


def test_an_event_waits_for_its_predecessor_visibly_and_resumes_when_it_comes(probe,
                                                                              amqp_uri):
    client_id = str(uuid.uuid4())
    one, two, three = stream(client_id, 3)
    publish_event(amqp_uri, one)
    publish_event(amqp_uri, three)
    wait_until(lambda: held(probe), message="three held for two")
    (waiting,) = held(probe)
    assert waiting["event_id"] == three.id
    assert waiting["waiting_for"] == f"intake/client-{client_id} version 2"
    probe.application.refresh_deferred_gauge()  # as a scrape does
    assert REGISTRY.get_sample_value("praxis_events_deferred",
                                     {"service": "gapprobe", "reason": "gap"}) == 1
    assert GapApplication.applied == [] and names(probe) == [("Ada 1", 1)]
    publish_event(amqp_uri, two)
    wait_until(lambda: GapApplication.applied == [3] and not held(probe),
               message="three applied after two")
    assert names(probe) == [("Ada 3", 3)]


def test_a_predecessor_that_never_comes_dead_letters_the_event_with_reason_gap(probe,
                                                                               amqp_uri):
    client_id = str(uuid.uuid4())
    one, two, three = stream(client_id, 3)
    before = REGISTRY.get_sample_value("praxis_events_gap_dead_lettered_total", {
        "service": "gapprobe", "type": "ClientDetailsUpdated"}) or 0
    publish_event(amqp_uri, one)
    publish_event(amqp_uri, three)
    started = time.monotonic()
    wait_until(lambda: queue_depth(amqp_uri, QUEUE + ".dead-letter") == 1,
               timeout=GAP_WAIT_SECONDS + 20, message="three dead-lettered")
    assert time.monotonic() - started >= GAP_WAIT_SECONDS - 0.5  # it waited first
    (letter,) = dead_letters.inspect(amqp_uri, QUEUE)
    assert letter["event_id"] == three.id and letter["error"].startswith("gap: ")
    assert letter["reason"] == "gap"
    assert REGISTRY.get_sample_value("praxis_events_gap_dead_lettered_total", {
        "service": "gapprobe", "type": "ClientDetailsUpdated"}) == before + 1
    # Nothing of three applied, nor kept: its replay is taken afresh.
    assert held(probe) == [] and GapApplication.applied == []
    assert kept(probe) == [one.id] and names(probe) == [("Ada 1", 1)]

    publish_event(amqp_uri, two)
    wait_until(lambda: queue_depth(amqp_uri, QUEUE) == 0 and not held(probe),
               message="two accounted")
    assert dead_letters.replay(amqp_uri, QUEUE) == 1
    wait_until(lambda: GapApplication.applied == [3], message="the replayed three applied")
    assert names(probe) == [("Ada 3", 3)] and kept(probe) == [one.id, three.id]
    assert queue_depth(amqp_uri, QUEUE + ".dead-letter") == 0


def test_an_event_overtaken_while_it_waited_to_be_retried_is_applied_first(
        database_url, amqp_uri, gap_wait):
    """A failed reaction sends its delivery through the retry queue; the events of its
    stream published after it wait for it rather than being applied before it."""
    GapApplication.applied = []
    failures = {"left": 1}
    note = GapApplication.note

    def flaky(self, uow, event, context):
        if event.sequence == 3 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the read model's database hiccuped")
        note(self, uow, event, context)

    client_id = str(uuid.uuid4())
    events = stream(client_id, 6)
    try:
        GapApplication.note = flaky
        with RunningService(GapProbe, database_url, amqp_uri,
                            PRAXIS_RETRY_DELAY_MS=300) as probe:
            for event in events:
                publish_event(amqp_uri, event)
            wait_until(lambda: GapApplication.applied == [3, 4, 5, 6] and not held(probe),
                       message="applied in order after the retry")
            assert names(probe) == [("Ada 6", 6)]
    finally:
        GapApplication.note = note
