import itertools
import json
import uuid
from datetime import timedelta

import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client import REGISTRY

from services.scheduling.domain import cadence as rules
from services.scheduling.service import Service as Scheduling
from shared.projection import rebuild
from shared.timeutil import iso, parse_time, utc_now
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

START = "2024-05-06T09:00:00+02:00"
# Each session() an hour after the last: a held session still occupies its slot.
SESSION_SLOTS = itertools.count(1)


@pytest.fixture
def scheduling(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


# -- helpers ---------------------------------------------------------------
def stored(running, name=None):
    return [e for _, e in running.application.store.read_all() if name in (None, e.name)]


def stored_ids(running):
    return {e.id for e in stored(running)}


def register(running, org="org-1", clinic="clinic-1", primary_clinician_id="user-1"):
    """intake's ClientRegistered, published as intake's relay would; the default token's
    clinician (user-1) is the primary clinician, so in the care team."""
    client_id = str(uuid.uuid4())
    publish_event(running.amqp_uri, make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org", "phone": None},
        "primary_clinician_id": primary_clinician_id,
        "registered_at": iso(utc_now())}, subject=f"client-{client_id}", org=org, clinic=clinic))
    viewer = token(org=org, clinics=[clinic])
    wait_until(lambda: running.api.get(f"/clients/{client_id}/appointments",
                                       bearer=viewer).status_code == 200,
               message="the client to be known to scheduling")
    return client_id


def assessment(client_id, assessed_at, sequence=2):
    return make_event("intake", "ClientAssessed", {
        "client_id": client_id, "assessment_id": str(uuid.uuid4()), "instrument": "PHQ-9",
        "kind": "initial", "answers": [0] * 9, "total": 0, "severity": "minimal",
        "assessed_at": iso(assessed_at)}, subject=f"client-{client_id}", sequence=sequence)


def consumed(running, event):
    publish_event(running.amqp_uri, event)
    wait_until(lambda: event.id in stored_ids(running), message=f"{event.name} consumed")


def duplicates(name):
    return REGISTRY.get_sample_value("praxis_events_consumed_total", {
        "service": "scheduling", "type": name, "outcome": "duplicate"}) or 0.0


def redeliver(running, event):
    """Publish an envelope already consumed; wait until it was handled as a duplicate."""
    before = duplicates(event.name)
    publish_event(running.amqp_uri, event)
    wait_until(lambda: duplicates(event.name) >= before + 1, message="the duplicate handled")


def book(running, client_id, **overrides):
    body = {"organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
            "clinician_id": "dr-1", "start": START, "duration_minutes": 50,
            "modality": "video", **overrides}
    return running.api.post("/appointments", body)


def session(running, client_id, minutes=50):
    booked = book(running, client_id,
                  start=iso(parse_time(START) + timedelta(hours=next(SESSION_SLOTS))))
    assert booked.status_code == 201, booked.text
    held = running.api.post(f"/appointments/{booked.json()['appointment_id']}/held",
                            {"minutes": minutes})
    assert held.status_code == 201, held.text
    return held.json()


def cadence(running, client_id):
    return running.api.get(f"/clients/{client_id}/appointments").json()["reassessment"]


# -- tests -----------------------------------------------------------------
def test_book_hold_and_read_back(scheduling):
    api = scheduling.api
    client_id = register(scheduling)
    booked = book(scheduling, client_id, modality="in_person")
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert appointment["status"] == "booked"
    assert appointment["start"] == "2024-05-06T07:00:00Z"
    appointment_id = appointment["appointment_id"]

    held = api.post(f"/appointments/{appointment_id}/held", {"minutes": 47})
    assert held.status_code == 201, held.text
    assert held.json() == {"appointment_id": appointment_id, "client_id": client_id,
                           "clinician_id": "dr-1", "start": "2024-05-06T07:00:00Z",
                           "minutes": 47, "modality": "in_person", "session_number": 1,
                           "session_type": "individual", "place_of_service": "office",
                           "audio_only": False, "episode_id": None,
                           "client_present": None,
                           # what billing waits for before pricing (issue 13)
                           "client_details_revision": 1}

    again = api.post(f"/appointments/{appointment_id}/held", {"minutes": 47})
    assert again.status_code == 409
    assert len(stored(scheduling, "SessionHeld")) == 1

    second = session(scheduling, client_id)
    assert second["session_number"] == 2

    record = api.get(f"/appointments/{appointment_id}").json()
    assert record["status"] == "held" and record["minutes"] == 47
    assert record["session_number"] == 1 and record["held_at"]
    listing = api.get(f"/clients/{client_id}/appointments").json()
    assert sorted(a["session_number"] for a in listing["appointments"]) == [1, 2]
    assert listing["reassessment"]["sessions_since_assessment"] == 2
    assert listing["reassessment"]["due"] is False

    with ClusterRpcProxy({"AMQP_URI": scheduling.amqp_uri}) as rpc:
        assert rpc.scheduling.appointment(token(), appointment_id) == record


def test_reassessment_due_once_per_cycle(scheduling):
    client_id = register(scheduling)
    for _ in range(3):
        session(scheduling, client_id)
    assert stored(scheduling, "ReassessmentDue") == []
    assert cadence(scheduling, client_id)["due"] is False

    session(scheduling, client_id)
    (due,) = stored(scheduling, "ReassessmentDue")
    assert due.subject == f"reassessment-{client_id}"
    assert due.id == rules.reassessment_event_id(client_id, None)
    assert due.data["sessions_since_assessment"] == 4
    assert due.data["last_assessment_id"] is None
    assert "4 sessions" in due.data["reason"]
    held = stored(scheduling, "SessionHeld")
    assert due.causationid == held[-1].id

    session(scheduling, client_id)  # a fifth session: same cycle, nothing new
    assert len(stored(scheduling, "ReassessmentDue")) == 1

    # A new assessment starts a new cycle; delivered twice it changes nothing.
    first = assessment(client_id, utc_now())
    consumed(scheduling, first)
    before = stored_ids(scheduling)
    redeliver(scheduling, first)
    assert stored_ids(scheduling) == before
    assert len([e for e in stored(scheduling) if e.id == first.id]) == 1
    state = cadence(scheduling, client_id)
    assert state["last_assessment_id"] == first.data["assessment_id"]
    assert state["sessions_since_assessment"] == 0

    for _ in range(3):
        session(scheduling, client_id)
    assert len(stored(scheduling, "ReassessmentDue")) == 1
    session(scheduling, client_id)
    dues = stored(scheduling, "ReassessmentDue")
    assert len(dues) == 2
    assert dues[1].data["last_assessment_id"] == first.data["assessment_id"]
    assert dues[1].data["sessions_since_assessment"] == 4
    assert dues[1].sequence == 2

    # An older assessment arriving late does not open the current cycle: the first
    # stays the latest. Its own cycle (nine sessions held since it) is flagged as
    # it would have been had it arrived in order, before the first (issue 13: what
    # scheduling appends does not depend on arrival order); a closed cycle, never
    # listed as open or pending.
    late = assessment(client_id, utc_now() - timedelta(days=30), sequence=3)
    consumed(scheduling, late)
    state = cadence(scheduling, client_id)
    assert state["last_assessment_id"] == first.data["assessment_id"]
    assert state["sessions_since_assessment"] == 4
    dues = stored(scheduling, "ReassessmentDue")
    assert len(dues) == 3
    assert dues[2].id == rules.reassessment_event_id(client_id, late.data["assessment_id"])
    assert dues[2].data["sessions_since_assessment"] == 9

    # Read models come from events alone: a replay reproduces them.
    store = scheduling.application.store
    with store.read() as conn:
        snapshot = scheduling.application.projection.snapshot(conn)
    assert len(snapshot["reassessment_cycles"]) == 3
    assert len(snapshot["appointments"]) == 9
    assert rebuild(store) == len(stored(scheduling))
    with store.read() as conn:
        assert scheduling.application.projection.snapshot(conn) == snapshot


def test_an_assessment_dated_before_sessions_held_makes_its_cycle_due_on_arrival(scheduling):
    client_id = register(scheduling)
    before_sessions = utc_now() - timedelta(seconds=1)
    for _ in range(4):
        session(scheduling, client_id)
    assert len(stored(scheduling, "ReassessmentDue")) == 1

    late = assessment(client_id, before_sessions)
    consumed(scheduling, late)
    dues = stored(scheduling, "ReassessmentDue")
    assert len(dues) == 2
    assert dues[1].data["last_assessment_id"] == late.data["assessment_id"]
    assert dues[1].causationid == late.id
    assert dues[1].correlationid == late.correlationid

    redeliver(scheduling, late)
    assert len(stored(scheduling, "ReassessmentDue")) == 2


def test_clinic_policy(scheduling):
    api = scheduling.api
    admin = token(role="admin")
    assert api.get("/clinics/clinic-1/reassessment-policy").json()["every_sessions"] == 4
    assert api.put("/clinics/clinic-1/reassessment-policy", {"every_sessions": 2}).status_code \
        == 403  # clinicians may not
    response = api.put("/clinics/clinic-1/reassessment-policy", {"every_sessions": 0},
                       bearer=admin)
    assert response.status_code == 422 and "every_sessions" in response.json()["fields"]
    assert api.put("/clinics/clinic-2/reassessment-policy", {"every_sessions": 2},
                   bearer=admin).status_code == 403
    response = api.put("/clinics/clinic-1/reassessment-policy", {"every_sessions": 2},
                       bearer=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"organisation_id": "org-1", "clinic_id": "clinic-1",
                               "every_sessions": 2, "every_days": None, "source": "clinic"}
    (policy,) = stored(scheduling, "ReassessmentPolicySet")
    assert policy.subject == "clinic-org-1/clinic-1"

    client_id = register(scheduling)
    session(scheduling, client_id)
    assert stored(scheduling, "ReassessmentDue") == []
    session(scheduling, client_id)
    (due,) = stored(scheduling, "ReassessmentDue")
    assert due.data["sessions_since_assessment"] == 2


def test_reassessment_due_is_published_with_its_event_id(scheduling):
    exchange = Exchange("scheduling.events", type="topic", durable=True)
    queue = Queue(f"test-due-{uuid.uuid4().hex[:8]}", exchange=exchange,
                  routing_key="*.ReassessmentDue")
    with Connection(scheduling.amqp_uri) as connection:
        queue(connection.default_channel).declare()

    client_id = register(scheduling)
    for _ in range(4):
        session(scheduling, client_id)
    (due,) = stored(scheduling, "ReassessmentDue")

    def fetch():
        with Connection(scheduling.amqp_uri) as connection:
            return queue(connection.default_channel).get(no_ack=True)
    message = wait_until(fetch, message="ReassessmentDue on scheduling.events")
    assert message.properties["message_id"] == due.id
    assert message.delivery_info["routing_key"] == "org-1.ReassessmentDue"
    assert message.content_type == "application/cloudevents+json"
    body = json.loads(message.body)
    assert body["id"] == due.id and body["data"]["client_id"] == client_id


def test_tokens_and_tenancy(scheduling):
    api = scheduling.api
    client_id = register(scheduling)
    body = {"organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
            "clinician_id": "dr-1", "start": START, "duration_minutes": 50, "modality": "video"}
    assert api.post("/appointments", body, bearer="").status_code == 401
    assert api.post("/appointments", body, bearer="not-a-jwt").status_code == 401
    other_clinic = token(clinics=["clinic-2"])
    assert api.post("/appointments", body, bearer=other_clinic).status_code == 403
    assert api.post("/appointments", body, bearer=token(role="billing")).status_code == 403
    assert api.post("/appointments", body, bearer=token(role="front_desk")).status_code == 201

    appointment_id = book(scheduling, client_id,
                          start="2024-05-07T09:00:00+02:00").json()["appointment_id"]
    other_org = token(org="org-2", clinics=["*"])
    for bearer in (other_org, other_clinic):
        assert api.get(f"/appointments/{appointment_id}", bearer=bearer).status_code == 404
        assert api.get(f"/clients/{client_id}/appointments", bearer=bearer).status_code == 404
        assert api.post(f"/appointments/{appointment_id}/held", {"minutes": 50},
                        bearer=bearer).status_code == 404
    assert api.get(f"/appointments/{appointment_id}", bearer="").status_code == 401
    assert api.get(f"/appointments/{appointment_id}",
                   bearer=token(clinics=["*"])).status_code == 200
    assert stored(scheduling, "SessionHeld") == []


def test_bad_input_names_the_field_and_stores_nothing(scheduling):
    api = scheduling.api
    client_id = register(scheduling)
    elsewhere = register(scheduling, clinic="clinic-2")
    cases = [
        ({"start": "2024-05-06T09:00:00"}, "start"),            # no time zone
        ({"start": "next tuesday"}, "start"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": "50"}, "duration_minutes"),
        ({"modality": "telepathy"}, "modality"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"client_id": str(uuid.uuid4())}, "client_id"),        # unknown client
        ({"client_id": elsewhere}, "client_id"),                # another clinic's client
        ({"clinician_id": ""}, "clinician_id"),
    ]
    everywhere = token(clinics=["*"])
    for overrides, field in cases:
        response = api.post("/appointments", {
            "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
            "clinician_id": "dr-1", "start": START, "duration_minutes": 50,
            "modality": "video", **overrides}, bearer=everywhere)
        assert response.status_code == 422, (overrides, response.text)
        assert field in response.json()["fields"], (overrides, response.json())
    response = api.post("/appointments", {"organisation_id": "org-1", "clinic_id": "clinic-1"})
    assert response.status_code == 422
    assert {"client_id", "clinician_id", "start", "duration_minutes", "modality"} \
        <= set(response.json()["fields"])
    assert api.post("/appointments", data="{not json",
                    headers={"Content-Type": "application/json"}).status_code == 400

    appointment_id = book(scheduling, client_id).json()["appointment_id"]
    for minutes in (-1, "fifty", None):
        response = api.post(f"/appointments/{appointment_id}/held", {"minutes": minutes})
        assert response.status_code == 422 and "minutes" in response.json()["fields"]
    assert api.post(f"/appointments/{uuid.uuid4()}/held", {"minutes": 50}).status_code == 404
    assert [e.name for e in stored(scheduling)] == \
        ["ClientRegistered", "ClientRegistered", "AppointmentBooked"]
