"""W3C traceparent: parsed strictly, dropped when malformed, carried by the envelope."""
import json
from dataclasses import replace

import pytest

from shared import tracing
from shared.envelope import Context, Event

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"


@pytest.mark.parametrize("header, parsed", [
    (VALID, VALID),
    (f"00-{TRACE}-{PARENT}-00", f"00-{TRACE}-{PARENT}-00"),    # not sampled: still a trace
    (f" {VALID}\t", VALID),                                     # optional whitespace
    (f"01-{TRACE}-{PARENT}-01", VALID),                         # a later version: its 4 fields
    (f"cc-{TRACE}-{PARENT}-09-what-comes-later", f"00-{TRACE}-{PARENT}-09"),
])
def test_a_traceparent_is_read_in_its_version_00_form(header, parsed):
    assert tracing.parse(header) == parsed


@pytest.mark.parametrize("header", [
    None, "", 42, "00", "garbage",
    VALID.upper(),                                              # hex is lowercase
    f"ff-{TRACE}-{PARENT}-01",                                  # version ff is invalid
    f"00-{'0' * 32}-{PARENT}-01",                               # all-zero trace id
    f"00-{TRACE}-{'0' * 16}-01",                                # all-zero parent id
    f"00-{TRACE[:-1]}-{PARENT}-01",                             # short trace id
    f"00-{TRACE}-{PARENT}0-01",                                 # long parent id
    f"00-{TRACE}-{PARENT}-1",                                   # one-digit flags
    f"{VALID}-extra",                                           # version 00 has 4 fields
    f"01-{TRACE}-{PARENT}-01extra",                             # a later one: "-" first
    f"00_{TRACE}_{PARENT}_01",
    f"00-{TRACE}-{PARENT}-0g",
    f"00-{TRACE}-{PARENT}-01\n",
])
def test_anything_else_is_no_traceparent(header):
    assert tracing.parse(header) is None


def test_the_trace_id_is_the_second_field():
    assert tracing.trace_id(VALID) == TRACE
    assert tracing.trace_id(None) is None


def event(**changes):
    base = Event(id="e-1", source="/praxis/scheduling", type="praxis.scheduling.SessionHeld.v1",
                 subject="appointment-1", time="2026-12-01T10:00:00Z", data={}, sequence=1,
                 organisationid="org-1", clinicid="clinic-1", correlationid="c-1")
    return replace(base, **changes)


def test_the_envelope_carries_it_as_the_distributed_tracing_extension():
    body = json.loads(event(traceparent=VALID).to_json())
    assert body["traceparent"] == VALID
    assert Event.from_dict(body).traceparent == VALID
    assert "traceparent" not in json.loads(event().to_json())  # optional: absent, not null
    assert Event.from_dict(json.loads(event().to_json())).traceparent is None


def test_an_envelope_with_a_malformed_traceparent_is_read_without_it():
    body = json.loads(event().to_json())
    body["traceparent"] = "00-not-hex"
    assert Event.from_dict(body).traceparent is None
    body["traceparent"] = ["a", "list"]
    assert Event.from_dict(body).traceparent is None


def test_a_context_takes_the_current_trace_and_a_reaction_the_events():
    assert Context("org-1", "clinic-1").traceparent is None
    with tracing.tracing(VALID):
        assert tracing.current() == VALID
        assert Context("org-1", "clinic-1").traceparent == VALID
        # a reaction follows the event it reacts to, whatever is current
        assert Context.caused_by(event()).traceparent is None
    assert tracing.current() is None
    other = f"00-{TRACE}-{'1' * 16}-01"
    assert Context.caused_by(event(traceparent=other)).traceparent == other
