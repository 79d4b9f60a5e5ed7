"""PRAXIS_QUEUE_TYPE=quorum on the real broker: the handler, retry and dead-letter
queues are quorum queues, and retry (per-message TTL, then dead-lettering back to
the handler's queue), dead-letter and replay work as with classic queues."""
import os
from urllib.parse import unquote, urlparse

import pytest
import requests
from amqp.exceptions import PreconditionFailed
from kombu import Connection

from shared import dead_letters
from shared.consumer import dead_letter_queue
from tests.integration.test_reliable_consumer import (QUEUE, Probe, ProbeApplication,
                                                      queue_depth, registered_event, rows)
from tests.support import RunningService, publish_event, wait_until

pytestmark = pytest.mark.integration


def queue_info(amqp_uri, name):
    parsed = urlparse(amqp_uri)
    api = os.environ.get("PRAXIS_TEST_RABBIT_API", f"http://{parsed.hostname}:15672/api")
    vhost = unquote(parsed.path[1:])
    response = requests.get(f"{api}/queues/{requests.utils.quote(vhost, safe='')}/{name}",
                            auth=(parsed.username, parsed.password), timeout=5)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def quorum_probe(sqlite_url, amqp_uri):
    ProbeApplication.failures_left = 0
    ProbeApplication.attempts = 0
    with RunningService(Probe, sqlite_url, amqp_uri, PRAXIS_MAX_ATTEMPTS=3,
                        PRAXIS_QUEUE_TYPE="quorum") as running:
        yield running


def test_queues_are_quorum_queues(quorum_probe, amqp_uri):
    for name in (QUEUE, QUEUE + ".retrying", QUEUE + ".dead-letter"):
        assert queue_info(amqp_uri, name)["type"] == "quorum", name
    retrying = queue_info(amqp_uri, QUEUE + ".retrying")["arguments"]
    assert retrying["x-dead-letter-strategy"] == "at-least-once"
    assert retrying["x-dead-letter-routing-key"] == QUEUE


def test_retry_then_dead_letter_then_replay_on_quorum_queues(quorum_probe, amqp_uri):
    ProbeApplication.failures_left = 1
    publish_event(amqp_uri, registered_event())
    wait_until(lambda: rows(quorum_probe) == 1, message="applied on the second attempt")
    assert ProbeApplication.attempts == 2

    ProbeApplication.failures_left, ProbeApplication.attempts = 3, 0  # PRAXIS_MAX_ATTEMPTS=3
    event = registered_event()
    publish_event(amqp_uri, event)
    wait_until(lambda: queue_depth(amqp_uri, QUEUE + ".dead-letter") == 1,
               message="dead-lettered after three attempts through the retry queue")
    assert ProbeApplication.attempts == 3 and rows(quorum_probe) == 1
    assert queue_depth(amqp_uri, QUEUE + ".retrying") == 0
    (letter,) = dead_letters.inspect(amqp_uri, QUEUE, queue_type="quorum")
    assert letter["event_id"] == event.id and letter["attempts"] == 3

    assert dead_letters.replay(amqp_uri, QUEUE, queue_type="quorum") == 1
    wait_until(lambda: rows(quorum_probe) == 2, message="replayed event applied")
    assert queue_depth(amqp_uri, QUEUE + ".dead-letter") == 0


def test_a_classic_queue_is_not_redeclared_as_quorum(sqlite_url, amqp_uri):
    """Why classic stays the default: a broker that holds the classic queues of an
    earlier release refuses them as quorum (deploy/README.md, the upgrade note)."""
    with RunningService(Probe, sqlite_url, amqp_uri):
        assert queue_info(amqp_uri, QUEUE)["type"] == "classic"
    with Connection(amqp_uri) as connection:
        with pytest.raises(PreconditionFailed):
            dead_letter_queue(QUEUE, "quorum")(connection.channel()).declare()
