"""Consuming on the real broker: dedupe, retry, dead-letter, replay."""
import uuid

import pytest
from kombu import Connection
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared import dead_letters
from shared.application import Application
from shared.projection import Projection
from shared.runtime import CommonEndpoints, Praxis
from shared.consumer import subscribers
from shared.subscriptions import Subscriptions
from tests.support import RunningService, make_event, publish_event, wait_until

pytestmark = pytest.mark.integration

metadata = MetaData()
registrations = Table("registrations", metadata,
                      Column("client_id", String(36), primary_key=True),
                      Column("count", Integer, nullable=False))
projection = Projection(metadata)


@projection.on("ClientRegistered")
def _registered(conn, event):
    conn.execute(insert(registrations).values(client_id=event.data["client_id"], count=1))


class ProbeApplication(Application):
    service = "probe"
    projection = projection
    subscriptions = Subscriptions({("intake", "ClientRegistered"): "react"})
    failures_left = 0
    attempts = 0

    def react(self, uow, event, context):
        type(self).attempts += 1
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            raise RuntimeError("the read model's database hiccuped")


class Probe(CommonEndpoints, subscribers(ProbeApplication.subscriptions)):
    name = "probe"
    praxis = Praxis(ProbeApplication)


QUEUE = "evt-intake--probe"


@pytest.fixture
def probe(sqlite_url, amqp_uri):
    ProbeApplication.failures_left = 0
    ProbeApplication.attempts = 0
    with RunningService(Probe, sqlite_url, amqp_uri, PRAXIS_MAX_ATTEMPTS=3) as running:
        yield running


def registered_event(client_id=None, **changes):
    client_id = client_id or str(uuid.uuid4())
    data = {"client_id": client_id, "name": "Ada", "date_of_birth": "1990-01-02",
            "contact": {}, "registered_at": "2026-01-01T09:00:00Z", **changes}
    return make_event("intake", "ClientRegistered", data, f"client-{client_id}")


def rows(probe):
    with probe.application.store.read() as conn:
        return conn.execute(select(func.count()).select_from(registrations)).scalar()


def stored(probe):
    return len(probe.application.store.read_all())


def queue_depth(amqp_uri, name):
    with Connection(amqp_uri) as connection:
        return connection.default_channel.queue_declare(name, passive=True).message_count


def test_duplicate_delivery_changes_nothing(probe, amqp_uri):
    event = registered_event()
    publish_event(amqp_uri, event)
    wait_until(lambda: rows(probe) == 1, message="first delivery applied")
    publish_event(amqp_uri, event)
    publish_event(amqp_uri, event)
    wait_until(lambda: ProbeApplication.attempts == 1 and queue_depth(amqp_uri, QUEUE) == 0,
               message="duplicates drained")
    other = registered_event()
    publish_event(amqp_uri, other)  # delivered after the duplicates: proves they were handled
    wait_until(lambda: rows(probe) == 2, message="a later event applied")
    assert stored(probe) == 2 and ProbeApplication.attempts == 2


def test_failing_handler_is_retried_then_succeeds(probe, amqp_uri):
    ProbeApplication.failures_left = 2
    publish_event(amqp_uri, registered_event())
    wait_until(lambda: rows(probe) == 1, message="applied on the third attempt")
    assert ProbeApplication.attempts == 3
    assert queue_depth(amqp_uri, QUEUE + ".dead-letter") == 0


def test_handler_failing_every_time_is_dead_lettered_then_replayed(probe, amqp_uri):
    ProbeApplication.failures_left = 3  # PRAXIS_MAX_ATTEMPTS=3
    event = registered_event()
    publish_event(amqp_uri, event)
    wait_until(lambda: queue_depth(amqp_uri, QUEUE + ".dead-letter") == 1,
               message="dead-lettered")
    assert ProbeApplication.attempts == 3 and rows(probe) == 0 and stored(probe) == 0
    (letter,) = dead_letters.inspect(amqp_uri, QUEUE)
    assert letter["event_id"] == event.id and letter["attempts"] == 3
    assert "hiccuped" in letter["error"]
    assert queue_depth(amqp_uri, QUEUE + ".dead-letter") == 1  # inspecting keeps it

    assert dead_letters.replay(amqp_uri, QUEUE) == 1  # the operator fixed the cause
    wait_until(lambda: rows(probe) == 1, message="replayed event applied")
    assert queue_depth(amqp_uri, QUEUE + ".dead-letter") == 0


def test_invalid_event_is_dead_lettered_at_once(probe, amqp_uri):
    publish_event(amqp_uri, registered_event(date_of_birth="not a date"))
    wait_until(lambda: queue_depth(amqp_uri, QUEUE + ".dead-letter") == 1,
               message="invalid event dead-lettered")
    (letter,) = dead_letters.inspect(amqp_uri, QUEUE)
    assert letter["attempts"] == 1 and "date_of_birth" in letter["error"]
    assert ProbeApplication.attempts == 0 and stored(probe) == 0


def scrape(probe):
    """{(metric name, sorted labels): value} from the service's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(probe.api.get("/metrics", bearer="").text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_consumed_events(probe, amqp_uri):
    # Metrics are per process and tests share one: compare before and after.
    applied = ("praxis_events_consumed_total", (("outcome", "applied"), ("service", "probe"),
                                                ("type", "ClientRegistered")))
    duplicate = (applied[0], (("outcome", "duplicate"),) + applied[1][1:])
    before = scrape(probe)
    event = registered_event()
    publish_event(amqp_uri, event)
    publish_event(amqp_uri, event)
    wait_until(lambda: scrape(probe).get(duplicate, 0) == before.get(duplicate, 0) + 1,
               message="duplicate counted")
    after = scrape(probe)
    assert after[applied] == before.get(applied, 0) + 1
    histogram = ("praxis_event_handler_duration_seconds_count",
                 (("service", "probe"), ("type", "ClientRegistered")))
    assert after[histogram] >= before.get(histogram, 0) + 1


def test_probes_and_consumer_backlog_metric(probe, amqp_uri):
    assert probe.api.get("/livez", bearer="").json() == {"status": "ok"}
    ready = probe.api.get("/readyz", bearer="")
    assert ready.status_code == 200 and ready.json()["broker"] == "ok"
    samples = scrape(probe)
    assert samples[("praxis_consumer_queue_messages",
                    (("queue", QUEUE), ("service", "probe")))] == 0
    lag = ("praxis_event_consume_lag_seconds_count",
           (("service", "probe"), ("type", "ClientRegistered")))
    before = samples.get(lag, 0)
    publish_event(amqp_uri, registered_event())
    wait_until(lambda: scrape(probe).get(lag, 0) == before + 1, message="lag observed")


def test_changing_the_retry_delay_needs_no_queue_surgery(sqlite_url, amqp_uri):
    """The delay rides on each retried copy, not on the queue's declaration, so a
    restart with another PRAXIS_RETRY_DELAY_MS starts (RabbitMQ refuses to redeclare
    a queue with other arguments)."""
    for delay in (100, 700):
        with RunningService(Probe, sqlite_url, amqp_uri, PRAXIS_RETRY_DELAY_MS=delay) as probe:
            ProbeApplication.failures_left, ProbeApplication.attempts = 1, 0
            publish_event(amqp_uri, registered_event())
            wait_until(lambda: ProbeApplication.attempts == 2, message="retried once")
            assert probe.api.get("/readyz", bearer="").status_code == 200


# -- a producer's events, of several types, are applied in the order it published them --
class OrderApplication(Application):
    service = "orderprobe"
    projection = Projection(MetaData())
    subscriptions = Subscriptions({("intake", "ClientRegistered"): "note",
                                   ("intake", "ClientDetailsUpdated"): "note"})
    applied = []

    def note(self, uow, event, context):
        type(self).applied.append(event.id)


class OrderProbe(CommonEndpoints, subscribers(OrderApplication.subscriptions)):
    name = "orderprobe"
    praxis = Praxis(OrderApplication)


def test_one_queue_per_producer_applies_its_events_in_publish_order(sqlite_url, amqp_uri):
    OrderApplication.applied = []
    with RunningService(OrderProbe, sqlite_url, amqp_uri):
        pass  # the first start declares and binds the queue; then the service is away
    client_id = str(uuid.uuid4())
    published = [registered_event(client_id)]
    for revision in range(2, 41):
        published.append(make_event("intake", "ClientDetailsUpdated", {
            "client_id": client_id, "changes": {"name": f"Ada {revision}"},
            "updated_at": "2026-01-01T09:00:00Z", "details_revision": revision},
            f"client-{client_id}", sequence=revision))
    for event in published:
        publish_event(amqp_uri, event)
    assert queue_depth(amqp_uri, "evt-intake--orderprobe") == 40  # both types, one queue
    with RunningService(OrderProbe, sqlite_url, amqp_uri):
        wait_until(lambda: len(OrderApplication.applied) == 40, message="all 40 applied")
    assert OrderApplication.applied == [event.id for event in published]
