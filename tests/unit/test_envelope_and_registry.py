import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from marshmallow import Schema, fields

from shared.envelope import SEQUENCE_DIGITS, Event, parse_type
from shared.errors import InvalidEvent
from shared.events import catalogue
from shared.registry import EventRegistry
from tests.support import make_event

STORED = Path(__file__).resolve().parent / "stored_events"


def registered():
    client_id = str(uuid.uuid4())
    return make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada", "date_of_birth": "1990-01-02",
        "contact": {"email": None, "phone": None}, "registered_at": "2026-01-01T09:00:00Z"},
        f"client-{client_id}")


def test_envelope_is_cloudevents_structured_json():
    event = registered()
    body = json.loads(event.to_json())
    assert body["specversion"] == "1.0"
    assert body["type"] == "praxis.intake.ClientRegistered.v1"
    assert body["datacontenttype"] == "application/json"
    # The CloudEvents sequence extension is a String, ordered lexicographically.
    assert body["sequence"] == "00000000000000000001"
    for attribute in ("id", "source", "subject", "time", "organisationid", "clinicid",
                      "correlationid", "data"):
        assert attribute in body
    assert "causationid" not in body  # absent, not null, when nothing caused it
    assert Event.from_json(event.to_json()) == event


@pytest.mark.parametrize("attribute", ["id", "type", "subject", "organisationid", "clinicid"])
def test_envelope_missing_attribute_is_named(attribute):
    body = registered().to_dict()
    del body[attribute]
    with pytest.raises(ValueError, match=attribute):
        Event.from_dict(body)


def test_type_carries_the_version():
    assert parse_type("praxis.scheduling.SessionHeld.v3") == ("scheduling", "SessionHeld", 3)
    with pytest.raises(ValueError):
        parse_type("SessionHeld")


def test_unknown_type_is_refused():
    body = registered().to_dict()
    body["type"] = "praxis.intake.ClientTeleported.v1"
    with pytest.raises(InvalidEvent, match="unknown event type"):
        catalogue.decode(body)


def test_invalid_payload_is_refused_naming_fields():
    body = registered().to_dict()
    body["data"]["date_of_birth"] = "soon"
    with pytest.raises(InvalidEvent) as refused:
        catalogue.decode(body)
    assert "date_of_birth" in refused.value.fields


def test_upcasting_chain_on_read():
    registry = EventRegistry()

    class V1(Schema):
        minutes = fields.Integer(required=True)

    class V2(Schema):
        seconds = fields.Integer(required=True)

    class V3(Schema):
        seconds = fields.Integer(required=True)
        source = fields.String(required=True)

    registry.register("scheduling", "Timed", 1, V1)
    registry.register("scheduling", "Timed", 2, V2)
    registry.register("scheduling", "Timed", 3, V3)
    registry.upcaster("scheduling", "Timed", 1)(lambda d: {"seconds": d["minutes"] * 60})
    registry.upcaster("scheduling", "Timed", 2)(lambda d: {**d, "source": "upcast"})
    old = make_event("intake", "ClientRegistered", {}, "x").to_dict()
    old.update(type="praxis.scheduling.Timed.v1", data={"minutes": 2})
    event = registry.decode(old)
    assert event.type == "praxis.scheduling.Timed.v3"
    assert event.data == {"seconds": 120, "source": "upcast"}
    assert registry.latest_type("scheduling", "Timed") == "praxis.scheduling.Timed.v3"


def test_catalogue_lists_every_event_the_services_publish():
    names = {(s.service, s.name) for s in catalogue.specs()}
    for expected in [("intake", "ClientRegistered"), ("intake", "ClientAssessed"),
                     ("scheduling", "SessionHeld"), ("scheduling", "ReassessmentDue"),
                     ("notes", "GoalSet"), ("billing", "ChargeRecorded")]:
        assert expected in names
    assert all(s.description for s in catalogue.specs())


def test_event_names_are_unique_across_services():
    registry = EventRegistry()

    class Any(Schema):
        pass

    registry.register("intake", "Noted", 1, Any)
    registry.register("intake", "Noted", 2, Any)
    with pytest.raises(ValueError, match="already used by intake"):
        registry.register("notes", "Noted", 1, Any)


def test_consumers_ignore_fields_a_newer_producer_added():
    body = registered().to_dict()
    body["data"]["favourite_colour"] = "teal"          # unknown at the top level
    body["data"]["contact"]["pager"] = "555"           # and nested
    event = catalogue.decode(body)                     # the consuming side: accepted
    assert event.data["favourite_colour"] == "teal"
    with pytest.raises(InvalidEvent) as refused:       # the appending side: strict
        catalogue.validate(Event.from_dict(body))
    assert "favourite_colour" in refused.value.fields
    body["data"]["date_of_birth"] = "soon"             # a real error still counts
    with pytest.raises(InvalidEvent) as refused:
        catalogue.decode(body)
    assert list(refused.value.fields) == ["date_of_birth"]


def test_sequence_orders_as_a_string_and_envelopes_stored_unpadded_still_read():
    later = [replace(registered(), sequence=n).to_dict()["sequence"] for n in (2, 10, 123)]
    assert sorted(later) == later and {len(s) for s in later} == {SEQUENCE_DIGITS}
    # As stored and relayed before the padding ("10" sorted before "2").
    stored = json.loads((STORED / "sequence-unpadded.json").read_text())
    assert [body["sequence"] for body in stored] == ["2", "10"]
    events = [catalogue.decode(body) for body in stored]
    assert [event.sequence for event in events] == [2, 10]
    assert [event.to_dict()["sequence"] for event in events] == [
        "00000000000000000002", "00000000000000000010"]
    assert Event.from_json(events[1].to_json()) == events[1]


@pytest.mark.parametrize("sequence", ["", "-1", "1.5", "x", 7, "\u0663"])
def test_a_sequence_that_is_no_decimal_string_is_refused(sequence):
    body = {**registered().to_dict(), "sequence": sequence}
    with pytest.raises(ValueError, match="sequence"):
        Event.from_dict(body)
