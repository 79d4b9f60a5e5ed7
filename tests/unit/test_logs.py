import json
import logging

from shared.logs import JsonFormatter, log_context


def record(message):
    return logging.LogRecord("praxis.test", logging.WARNING, __file__, 1, message, (), None)


def test_json_lines_carry_service_and_context():
    formatter = JsonFormatter("billing")
    with log_context(correlation_id="corr-1", event_id="evt-1", event_type="x.SessionHeld.v1"):
        line = json.loads(formatter.format(record("charge held")))
    assert line["service"] == "billing" and line["level"] == "warning"
    assert line["correlation_id"] == "corr-1" and line["event_id"] == "evt-1"
    assert line["event_type"] == "x.SessionHeld.v1" and line["message"] == "charge held"
    outside = json.loads(formatter.format(record("idle")))
    assert "correlation_id" not in outside


def test_a_database_error_is_logged_without_the_values_it_quotes():
    """psycopg2 quotes a value in its message and DETAIL; the log keeps the class only."""
    import sqlite3
    import uuid

    from sqlalchemy.exc import IntegrityError

    canary = f"canary-{uuid.uuid4().hex}"  # not in this file's source (tracebacks quote it)
    words = f"duplicate key value\nDETAIL:  Key (name)=({canary}) already exists."
    try:
        try:
            raise sqlite3.IntegrityError(words)
        except sqlite3.IntegrityError as driver:
            raise IntegrityError("INSERT INTO clients ...", {"name": canary}, driver,
                                 hide_parameters=True) from driver
    except IntegrityError as exc:
        error = exc
    record = logging.LogRecord("nameko.containers", logging.ERROR, __file__, 1,
                               "error handling worker %s: %s", ("w", error),
                               (type(error), error, error.__traceback__))
    line = json.loads(JsonFormatter("intake").format(record))
    assert canary not in json.dumps(line)
    assert "IntegrityError: detail withheld" in line["message"]
    assert "IntegrityError" in line["exception"]
