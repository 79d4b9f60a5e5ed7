"""Which failures are waited out (transient) and which are the event's (permanent)."""
import sqlite3
from types import SimpleNamespace

import amqp.exceptions
import kombu.exceptions
import psycopg2
from sqlalchemy import exc as sa_exc

from shared.consumer import SettlingQueueConsumer, decode
from shared.envelope import CONTENT_TYPE
from shared.errors import Conflict, InvalidEvent
from shared.faults import Backoff, ReadModelsRebuilding, is_transient, what_is_away
from shared.web import error_response


def operational(orig):
    return sa_exc.OperationalError("SELECT 1", {}, orig)


def test_an_absent_database_or_broker_is_transient():
    assert is_transient(operational(psycopg2.OperationalError("connection refused")))
    assert is_transient(operational(sqlite3.OperationalError("database is locked")))
    assert is_transient(sa_exc.TimeoutError("QueuePool limit reached"))
    assert is_transient(ConnectionResetError(104, "Connection reset by peer"))
    assert is_transient(amqp.exceptions.ConnectionForced("broker forced connection closure"))
    assert is_transient(kombu.exceptions.OperationalError("connection refused"))
    try:  # wrapped: the cause counts
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as cause:
            raise RuntimeError("publish failed") from cause
    except RuntimeError as wrapped:
        assert is_transient(wrapped)


def test_errors_about_the_event_are_permanent():
    assert not is_transient(InvalidEvent("no schema accepts it"))
    assert not is_transient(Conflict("already held"))
    assert not is_transient(ValueError("a handler bug"))
    assert not is_transient(operational(sqlite3.OperationalError("no such table: x")))
    assert not is_transient(sa_exc.IntegrityError("INSERT", {}, Exception("duplicate")))


def test_what_is_away():
    assert what_is_away(operational(psycopg2.OperationalError("x"))) == "database"
    assert what_is_away(ConnectionResetError()) == "broker"


def test_a_request_meeting_an_absent_database_is_503_with_retry_after():
    response = error_response(operational(psycopg2.OperationalError("server closed")))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert b'"unavailable"' in response.get_data() and b"database" in response.get_data()


def test_read_models_being_rebuilt_are_waited_out_like_an_absent_database():
    rebuilding = ReadModelsRebuilding("intake read models rebuilding: 5 of 10 events")
    assert is_transient(rebuilding) and what_is_away(rebuilding) == "read models"
    response = error_response(rebuilding)
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert b"the read models are unavailable" in response.get_data()


def test_backoff_doubles_to_its_ceiling_and_a_success_ends_it():
    backoff = Backoff(initial=0.5, ceiling=2.0)
    assert [backoff.failed("database") for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    backoff.succeeded()
    assert backoff.failed("database") == 0.5 and backoff.away == "database"


class Resetting:
    def __init__(self):
        self.channel = SimpleNamespace(connection=object())

    def ack(self):
        raise ConnectionResetError(104, "Connection reset by peer")

    requeue = ack


def test_an_ack_on_a_dropped_connection_is_not_raised():
    consumer = SettlingQueueConsumer()
    consumer.ack_message(Resetting())
    consumer.requeue_message(Resetting())


def message(body, content_type=CONTENT_TYPE, encoding="utf-8"):
    return SimpleNamespace(body=body, content_type=content_type, content_encoding=encoding)


def test_decoding_a_raw_delivery():
    assert decode(message(b'{"id": "e1"}')) == ({"id": "e1"}, None)
    assert decode(message(b'{"id": "e1"}', "application/json"))[0] == {"id": "e1"}
    assert decode(message(b"{nope"))[1][0] == "undecodable"
    assert decode(message(b"\xff\xfe"))[1][0] == "undecodable"
    assert decode(message(b"[1, 2]"))[1][0] == "undecodable"
    assert decode(message(b'{"id": "e1"}', "text/plain"))[1][0] == "content_type"
    assert decode(message(b"\x80\x04.", "application/x-python-serialize"))[1][0] == \
        "content_type"
