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
