import itertools
import json
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client import REGISTRY

from services.notes.service import Service as Notes
from shared.envelope import CONTENT_TYPE
from shared.projection import rebuild
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def notes(database_url, amqp_uri):
    with RunningService(Notes, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


# -- events as intake and scheduling send them ---------------------------------
def registered(client_id, name="Ada Lovelace", org="org-1", clinic="clinic-1",
               primary_clinician_id="user-1"):
    """The default token's clinician (user-1) is the primary clinician: in the care team."""
    return make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org", "phone": None},
        "primary_clinician_id": primary_clinician_id,
        "registered_at": "2026-01-05T09:00:00Z"}, f"client-{client_id}", org=org, clinic=clinic)


def assessed(client_id, total, severity, assessed_at, kind="initial", sequence=2,
             org="org-1", clinic="clinic-1", assessment_id=None):
    answers = [min(3, max(0, total - 3 * i)) for i in range(9)]
    assert sum(answers) == total
    return make_event("intake", "ClientAssessed", {
        "client_id": client_id, "assessment_id": assessment_id or str(uuid.uuid4()), "instrument": "PHQ-9",
        "kind": kind, "answers": answers, "total": total, "severity": severity,
        "assessed_at": assessed_at}, f"client-{client_id}", sequence=sequence, org=org,
        clinic=clinic)


def session_held(client_id, start, session_number, minutes=50, modality="video",
                 org="org-1", clinic="clinic-1", appointment_id=None):
    appointment_id = appointment_id or str(uuid.uuid4())
    return make_event("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id,
        "clinician_id": "clinician-7", "start": start, "minutes": minutes,
        "modality": modality, "session_type": "individual", "place_of_service": "office",
        "audio_only": False, "session_number": session_number},
        f"appointment-{appointment_id}", sequence=2, org=org, clinic=clinic)


def chart_of(notes, client_id, **kwargs):
    response = notes.api.get(f"/clients/{client_id}/chart", **kwargs)
    return response.json() if response.status_code == 200 else None


def stored(notes, event):
    return any(e.id == event.id for _, e in notes.application.store.read_all())


def consumed(name, outcome):
    return REGISTRY.get_sample_value("praxis_events_consumed_total", {
        "service": "notes", "type": name, "outcome": outcome}) or 0.0


# Far past the client stream's positions the tests give other intake events.
_care_team_sequence = itertools.count(1000)


def care_team_member_added(client_id, clinician_id, org="org-1", clinic="clinic-1"):
    """An admin added the clinician to the client's care team (shared/care_team.py)."""
    return make_event("intake", "CareTeamMemberAdded", {
        "client_id": client_id, "clinician_id": clinician_id, "added_by": "admin-1",
        "added_at": "2026-01-05T09:05:00Z"}, f"client-{client_id}", org=org, clinic=clinic,
        sequence=next(_care_team_sequence))


def add_to_care_team(notes, client_id, clinician_id, **tenancy):
    event = care_team_member_added(client_id, clinician_id, **tenancy)
    publish_event(notes.amqp_uri, event)
    wait_until(lambda: stored(notes, event), message=f"{clinician_id} in the care team")


def known_client(notes, name="Ada Lovelace", care_team=("clinician-7",), **tenancy):
    """A registered client; user-1 (the default token) is their primary clinician and
    the clinicians of `care_team` were added to their care team."""
    client_id = str(uuid.uuid4())
    publish_event(notes.amqp_uri, registered(client_id, name, **tenancy))
    if tenancy.get("org", "org-1") == "org-1" and tenancy.get("clinic", "clinic-1") == "clinic-1":
        wait_until(lambda: chart_of(notes, client_id), message="client registered in notes")
    for clinician_id in care_team:
        add_to_care_team(notes, client_id, clinician_id, **tenancy)
    return client_id


GOAL = {"description": "PHQ-9 below 5 and back at work", "target_date": "2026-06-30",
        "instrument": "PHQ-9", "target_score": 4}


# -- the chart ------------------------------------------------------------------
def test_chart_shows_registration_assessments_sessions_and_goals(notes):
    client_id = known_client(notes)
    # Published out of time order, with ids sorting against time: the chart orders by
    # time, not by arrival or id.
    low, high = "00000000-0000-4000-8000-", "ffffffff-ffff-4fff-bfff-"
    later = assessed(client_id, 6, "mild", "2026-03-01T10:00:00Z", "reassessment", sequence=3,
                     assessment_id=low + uuid.uuid4().hex[:12])
    first = assessed(client_id, 14, "moderate", "2026-01-05T10:00:00Z",
                     assessment_id=high + uuid.uuid4().hex[:12])
    second_session = session_held(client_id, "2026-01-19T15:00:00Z", 2, minutes=53,
                                  appointment_id=low + uuid.uuid4().hex[:12])
    first_session = session_held(client_id, "2026-01-12T15:00:00Z", 1, modality="in_person",
                                 appointment_id=high + uuid.uuid4().hex[:12])
    for event in (later, first, second_session, first_session):
        publish_event(notes.amqp_uri, event)

    response = notes.api.post(f"/clients/{client_id}/goals", GOAL)
    assert response.status_code == 201, response.text
    goal = response.json()
    assert uuid.UUID(goal["goal_id"]).version == 4
    assert goal["client_id"] == client_id and goal["set_by"] == "user-1"
    assert {k: goal[k] for k in GOAL} == GOAL
    second_goal = notes.api.post(f"/clients/{client_id}/goals", {
        "description": "Walk 3 times a week", "target_date": "2026-04-01"})
    assert second_goal.status_code == 201, second_goal.text
    assert second_goal.json()["instrument"] is None

    chart = wait_until(lambda: (c := chart_of(notes, client_id))
                       and len(c["assessments"]) == 2 and len(c["sessions"]) == 2 and c,
                       message="assessments and sessions in the chart")
    assert chart["client"] == {"client_id": client_id, "name": "Ada Lovelace",
                               "organisation_id": "org-1", "clinic_id": "clinic-1"}
    assert [(a["total"], a["kind"], a["severity"], a["assessed_at"], a["instrument"])
            for a in chart["assessments"]] == [
        (14, "initial", "moderate", "2026-01-05T10:00:00Z", "PHQ-9"),
        (6, "reassessment", "mild", "2026-03-01T10:00:00Z", "PHQ-9")]
    assert chart["sessions"] == [
        {"appointment_id": first_session.data["appointment_id"], "clinician_id": "clinician-7",
         "start": "2026-01-12T15:00:00Z", "minutes": 50, "modality": "in_person",
         "session_number": 1},
        {"appointment_id": second_session.data["appointment_id"], "clinician_id": "clinician-7",
         "start": "2026-01-19T15:00:00Z", "minutes": 53, "modality": "video",
         "session_number": 2}]
    assert [g["goal_id"] for g in chart["goals"]] == [goal["goal_id"],
                                                      second_goal.json()["goal_id"]]
    assert chart["goals"][0] == {k: goal[k] for k in chart["goals"][0]}
    assert chart["goals"][1]["target_score"] is None

    # The RPC twin answers the same chart, under the same rules.
    with ClusterRpcProxy({"AMQP_URI": notes.amqp_uri}) as rpc:
        assert rpc.notes.chart(token(), client_id) == chart

    # The goals are on the client's treatment-plan stream, versions 1 and 2.
    plan = notes.application.store.read_stream(f"treatment-plan-{client_id}")
    assert [(e.name, e.sequence, e.organisationid, e.clinicid) for e in plan] == [
        ("GoalSet", 1, "org-1", "clinic-1"), ("GoalSet", 2, "org-1", "clinic-1")]


def test_a_redelivered_event_changes_nothing(notes):
    client_id = known_client(notes)
    event = session_held(client_id, "2026-02-02T09:00:00Z", 1)
    publish_event(notes.amqp_uri, event)
    wait_until(lambda: (c := chart_of(notes, client_id)) and c["sessions"], message="session")
    before = chart_of(notes, client_id)
    duplicates = consumed("SessionHeld", "duplicate")

    publish_event(notes.amqp_uri, event)
    wait_until(lambda: consumed("SessionHeld", "duplicate") == duplicates + 1,
               message="the redelivery handled as a duplicate")
    assert chart_of(notes, client_id) == before
    assert len(before["sessions"]) == 1
    copies = [e for _, e in notes.application.store.read_all() if e.id == event.id]
    assert len(copies) == 1


def test_session_held_before_client_registered_still_shows(notes):
    client_id = str(uuid.uuid4())
    early = session_held(client_id, "2026-02-02T09:00:00Z", 1)
    publish_event(notes.amqp_uri, early)
    wait_until(lambda: stored(notes, early), message="the early SessionHeld recorded")
    assert notes.api.get(f"/clients/{client_id}/chart").status_code == 404
    assert notes.api.post(f"/clients/{client_id}/goals", GOAL).status_code == 404

    publish_event(notes.amqp_uri, registered(client_id, "Grace Hopper"))
    chart = wait_until(lambda: chart_of(notes, client_id), message="client registered")
    assert chart["client"]["name"] == "Grace Hopper"
    assert [s["appointment_id"] for s in chart["sessions"]] == [early.data["appointment_id"]]


# -- tenancy --------------------------------------------------------------------
def test_tokens_roles_and_tenancy(notes):
    api = notes.api
    client_id = known_client(notes)
    path = f"/clients/{client_id}"
    assert api.get(f"{path}/chart", bearer="").status_code == 401
    assert api.post(f"{path}/goals", GOAL, bearer="").status_code == 401
    assert api.get(f"{path}/chart", bearer="not-a-jwt").status_code == 401

    other_clinic = token(clinics=["clinic-2"])
    other_org = token(org="org-2", clinics=["*"])
    for bearer in (other_clinic, other_org):
        assert api.get(f"{path}/chart", bearer=bearer).status_code == 404
        assert api.post(f"{path}/goals", GOAL, bearer=bearer).status_code == 404
    for role in ("front_desk", "billing", "integrator"):
        assert api.get(f"{path}/chart", bearer=token(role=role)).status_code == 403
        assert api.post(f"{path}/goals", GOAL, bearer=token(role=role)).status_code == 403
    assert api.get(f"{path}/chart", bearer=token(role="admin", clinics=["*"])).status_code == 200
    assert api.post(f"{path}/goals", GOAL, bearer=token(role="admin")).status_code == 201

    unknown = uuid.uuid4()
    assert api.get(f"/clients/{unknown}/chart").status_code == 404
    assert api.post(f"/clients/{unknown}/goals", GOAL).status_code == 404
    assert api.get("/clients/not-a-uuid/chart").status_code == 404

    # Goals of refused requests were never stored: only the admin's one.
    assert [e.name for _, e in notes.application.store.read_all(origin="notes")] == ["GoalSet"]


def test_rows_of_another_tenant_never_reach_the_chart(notes):
    client_id = known_client(notes)
    # The same client id in another organisation's events (a forged or misrouted event).
    foreign = session_held(client_id, "2026-02-02T09:00:00Z", 1, org="org-2")
    own = session_held(client_id, "2026-02-09T09:00:00Z", 2)
    publish_event(notes.amqp_uri, foreign)
    publish_event(notes.amqp_uri, own)
    wait_until(lambda: stored(notes, foreign) and stored(notes, own), message="both recorded")
    chart = chart_of(notes, client_id)
    assert [s["appointment_id"] for s in chart["sessions"]] == [own.data["appointment_id"]]


# -- bad input --------------------------------------------------------------------
@pytest.mark.parametrize("body, field", [
    ({**GOAL, "description": ""}, "description"),
    ({**GOAL, "description": "x" * 2001}, "description"),
    ({k: v for k, v in GOAL.items() if k != "description"}, "description"),
    ({**GOAL, "target_date": "2026-02-30"}, "target_date"),
    ({k: v for k, v in GOAL.items() if k != "target_date"}, "target_date"),
    ({"description": "d", "target_date": "2026-06-30", "target_score": 4}, "target_score"),
    ({**GOAL, "instrument": None}, "target_score"),
    ({**GOAL, "target_score": -1}, "target_score"),
    ({**GOAL, "target_score": 2.5}, "target_score"),
    ({**GOAL, "instrument": ""}, "instrument"),
])
def test_bad_goal_names_the_field_and_stores_nothing(notes, body, field):
    client_id = known_client(notes)
    response = notes.api.post(f"/clients/{client_id}/goals", body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert chart_of(notes, client_id)["goals"] == []
    assert notes.application.store.read_all(origin="notes") == []


def test_a_body_that_is_not_json_is_refused(notes):
    client_id = known_client(notes)
    response = notes.api.request("POST", f"/clients/{client_id}/goals", data="{oops",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert notes.application.store.read_all(origin="notes") == []


# -- publishing and rebuilding ------------------------------------------------------
def test_goal_set_is_published_with_the_event_id_as_message_id(notes):
    client_id = known_client(notes)
    exchange = Exchange("notes.events", type="topic", durable=True)
    queue = Queue(f"test-goals-{uuid.uuid4().hex[:8]}", exchange=exchange,
                  routing_key="*.GoalSet", durable=False, auto_delete=True)
    with Connection(notes.amqp_uri) as connection:
        queue(connection.default_channel).declare()  # declares and binds the exchange too
        goal = notes.api.post(f"/clients/{client_id}/goals", GOAL).json()
        message = wait_until(lambda: queue(connection.default_channel).get(no_ack=True),
                             message="GoalSet on notes.events")
        (stored_event,) = [e for _, e in notes.application.store.read_all(origin="notes")]
        assert message.properties["message_id"] == stored_event.id
        assert message.content_type == CONTENT_TYPE
        body = json.loads(message.body)
        assert body["id"] == stored_event.id
        assert body["type"] == "praxis.notes.GoalSet.v1"
        assert body["subject"] == f"treatment-plan-{client_id}"
        assert body["organisationid"] == "org-1" and body["clinicid"] == "clinic-1"
        assert body["data"]["goal_id"] == goal["goal_id"]
    wait_until(lambda: notes.application.store.outbox_status()[0] == 0, message="outbox empty")


def test_rebuild_reproduces_the_read_models(notes):
    first = known_client(notes, care_team=())  # user-1, the primary clinician, reads it
    late = str(uuid.uuid4())
    events = [session_held(late, "2026-02-02T09:00:00Z", 1),
              assessed(first, 12, "moderate", "2026-01-05T10:00:00Z"),
              session_held(first, "2026-01-12T15:00:00Z", 1),
              registered(late, "Grace Hopper")]
    for event in events:
        publish_event(notes.amqp_uri, event)
    wait_until(lambda: all(stored(notes, e) for e in events), message="all events recorded")
    for client_id in (first, late):
        assert notes.api.post(f"/clients/{client_id}/goals", GOAL).status_code == 201

    store = notes.application.store
    projection = notes.application.projection
    with store.read() as conn:
        before = projection.snapshot(conn)
    assert len(before["clients"]) == 2 and len(before["chart_sessions"]) == 2
    assert len(before["plan_goals"]) == 2 and len(before["chart_assessments"]) == 1
    assert len(before["progress_notes"]) == 2  # each SessionHeld opened its note
    charts = [chart_of(notes, c) for c in (first, late)]

    # 2 ClientRegistered, 1 ClientAssessed, 2 SessionHeld, 2 ProgressNoteOpened, 2 GoalSet
    assert rebuild(store) == 9
    with store.read() as conn:
        assert projection.snapshot(conn) == before
    assert [chart_of(notes, c) for c in (first, late)] == charts
