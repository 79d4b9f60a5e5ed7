"""W3C traceparent across services: a request's reaches the events it appends, and
through the broker the events another service's reaction appends, beside the
correlation id; a malformed one is ignored, never refused."""
import json
import uuid
from dataclasses import replace

import pytest

from services.billing.service import Service as Billing
from services.scheduling.service import Service as Scheduling
from tests.integration.test_billing_service import SCHEDULE, known, session_held
from tests.integration.test_scheduling_service import START, register, stored
from tests.support import RunningService, publish_event, token, wait_until

pytestmark = pytest.mark.integration

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def services(tmp_path, amqp_uri):
    with RunningService(Scheduling, f"sqlite:///{tmp_path}/scheduling.db", amqp_uri) as scheduling, \
            RunningService(Billing, f"sqlite:///{tmp_path}/billing.db", amqp_uri) as billing:
        scheduling.amqp_uri = billing.amqp_uri = amqp_uri
        assert billing.api.put("/clinics/clinic-1/fee-schedule", SCHEDULE,
                               bearer=token(role="billing")).status_code == 200
        yield scheduling, billing


def book(scheduling, client_id, headers=None):
    return scheduling.api.post("/appointments", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
        "clinician_id": "dr-1", "start": START, "duration_minutes": 50,
        "modality": "video"}, headers=headers or {})


def charges_of(billing, appointment_id):
    return [e for e in stored(billing, "ChargeRecorded")
            if e.data["appointment_id"] == appointment_id]


def test_a_requests_traceparent_reaches_its_events_and_the_reactions_to_them(services):
    scheduling, billing = services
    client_id = register(scheduling)
    known(billing, client_id)
    headers = {"traceparent": TRACEPARENT, "X-Correlation-Id": "trace-journey"}
    booked = book(scheduling, client_id, headers=headers)
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["appointment_id"]
    held = scheduling.api.post(f"/appointments/{appointment_id}/held", {"minutes": 50},
                               headers=headers)
    assert held.status_code == 201, held.text

    (session,) = [e for e in stored(scheduling, "SessionHeld")
                  if e.data["appointment_id"] == appointment_id]
    assert (session.traceparent, session.correlationid) == (TRACEPARENT, "trace-journey")
    assert json.loads(session.to_json())["traceparent"] == TRACEPARENT  # stored and published
    (booking,) = [e for e in stored(scheduling, "AppointmentBooked")
                  if e.data["appointment_id"] == appointment_id]
    assert booking.traceparent == TRACEPARENT

    # Relayed to billing, whose reaction appends the charge: same trace, same correlation.
    (charge,) = wait_until(lambda: charges_of(billing, appointment_id),
                           message="billing's charge for the session")
    assert (charge.traceparent, charge.correlationid, charge.causationid) == \
        (TRACEPARENT, "trace-journey", session.id)


def test_without_a_traceparent_the_events_carry_none(services):
    scheduling, billing = services
    client_id = register(scheduling)
    booked = book(scheduling, client_id)
    assert booked.status_code == 201, booked.text
    (booking,) = [e for e in stored(scheduling, "AppointmentBooked")
                  if e.data["client_id"] == client_id]
    assert booking.traceparent is None and "traceparent" not in json.loads(booking.to_json())


@pytest.mark.parametrize("malformed", [
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",   # uppercase hex
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   # all-zero trace id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   # version ff
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      # no flags
    "not a traceparent \u00e9",
])
def test_a_malformed_traceparent_is_ignored_never_a_failure(services, malformed):
    scheduling, _ = services
    client_id = register(scheduling)
    booked = book(scheduling, client_id, headers={"traceparent": malformed.encode("utf-8")})
    assert booked.status_code == 201, booked.text
    (booking,) = [e for e in stored(scheduling, "AppointmentBooked")
                  if e.data["client_id"] == client_id]
    assert booking.traceparent is None


def test_a_consumed_event_with_a_malformed_traceparent_is_applied_without_it(services):
    _, billing = services
    client_id = str(uuid.uuid4())
    known(billing, client_id)
    held = replace(session_held(client_id), traceparent="00-xyz")
    assert json.loads(held.to_json())["traceparent"] == "00-xyz"  # as a foreign producer sent it
    publish_event(billing.amqp_uri, held)
    (charge,) = wait_until(lambda: charges_of(billing, held.data["appointment_id"]),
                           message="the charge, trace or no trace")
    assert charge.traceparent is None

    traced = replace(session_held(client_id), traceparent=TRACEPARENT)
    publish_event(billing.amqp_uri, traced)
    (charge,) = wait_until(lambda: charges_of(billing, traced.data["appointment_id"]),
                           message="the traced session's charge")
    assert charge.traceparent == TRACEPARENT
