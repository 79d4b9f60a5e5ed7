"""The alliance in intake over HTTP and RabbitMQ on SQLite and PostgreSQL: scheduling's
SessionHeld makes a session ratable; the client rates their own session, a clinician
records one; a concern is on the clinic's list (and its gauge) until acknowledged;
the clinic's settings; who may do what."""
import uuid

import pytest

from services.intake.service import Service as Intake
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

CLIENT = {"organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada Lovelace",
          "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
          "primary_clinician_id": "user-1"}
ADMIN = token(role="admin", clinics=["*"])
FRONT_DESK = token(role="front_desk", user="desk-1")
OTHER_ORG = token(role="admin", org="org-2", clinics=["*"], user="admin-9")


@pytest.fixture
def intake(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def register(api, name="Ada Lovelace"):
    response = api.post("/clients", {**CLIENT, "name": name})
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


def hold(intake, client_id, number):
    session_id = str(uuid.uuid4())
    publish_event(intake.amqp_uri, make_event("scheduling", "SessionHeld", {
        "appointment_id": session_id, "client_id": client_id, "clinician_id": "user-1",
        "start": "2026-03-01T10:00:00Z", "minutes": 50, "modality": "video",
        "session_type": "individual", "place_of_service": "office", "audio_only": False,
        "session_number": number}, subject=f"appointment-{session_id}", sequence=2))
    return session_id


def rating_path(client_id, session_id):
    return f"/clients/{client_id}/sessions/{session_id}/alliance"


def test_rating_held_sessions_and_the_concern_lifecycle(intake):
    api = intake.api
    client_id, other_id = register(api), register(api, "Other Client")
    as_client = token(role="client", user="client-1", client_id=client_id)
    never_held = str(uuid.uuid4())
    refused = api.post(rating_path(client_id, never_held), {"item_scores": [9] * 4},
                       bearer=as_client)
    assert refused.status_code == 404 and "session_id" in refused.json()["fields"]

    session_id = hold(intake, client_id, 1)
    rated = wait_until(lambda: (lambda r: r if r.status_code == 201 else None)(api.post(
        rating_path(client_id, session_id), {"item_scores": [9, 9, 9, 8]}, bearer=as_client)),
        message="the held session ratable")
    assert (rated.json()["total"], rated.json()["rated_by"]) == (35, "client")
    again = api.post(rating_path(client_id, session_id), {"item_scores": [10] * 4})
    assert again.status_code == 409

    second = hold(intake, client_id, 2)
    # (a Response with a 4xx is falsy: wait for the tuple)
    (bad,) = wait_until(lambda: (lambda r: (r,) if r.status_code != 404 else None)(api.post(
        rating_path(client_id, second), {"item_scores": [9, 9, "x", 9]})),
        message="the second session held")
    assert bad.status_code == 422 and "item_scores.3" in bad.json()["fields"]
    wait_until(lambda: api.post(rating_path(client_id, never_held), {"item_scores": [9] * 3})
               .status_code == 404, message="still not held")

    # another client's session: not the client's own record, nor their session
    others = hold(intake, other_id, 1)
    assert api.post(rating_path(other_id, others), {"item_scores": [9] * 4},
                    bearer=as_client).status_code == 404
    wait_until(lambda: api.post(rating_path(client_id, others), {"item_scores": [9] * 4},
                                bearer=as_client).status_code == 404, message="refused")
    assert api.post(rating_path(client_id, session_id), {"item_scores": [9] * 4},
                    bearer=FRONT_DESK).status_code == 403
    assert api.post(rating_path(client_id, session_id), {"item_scores": [9] * 4},
                    bearer=OTHER_ORG).status_code == 404

    listed = api.get("/clinics/clinic-1/alliance-concerns")
    (concern,) = listed.json()["alliance_concerns"]
    assert (concern["client_id"], concern["total"], concern["rules"]) == (
        client_id, 35, ["below_threshold"])
    assert api.get("/clinics/clinic-1/alliance-concerns", bearer=FRONT_DESK).status_code == 403
    assert "praxis_alliance_concerns_open" in api.get("/metrics").text

    path = f"/clients/{client_id}/alliance-concerns/{concern['flag_id']}/acknowledge"
    assert api.post(path, {"action_taken": "x"}, bearer=as_client).status_code == 403
    assert api.post(path, {"action_taken": "x"}, bearer=OTHER_ORG).status_code == 404
    assert api.post(path, {}).status_code == 422
    done = api.post(path, {"action_taken": "repair conversation next session"})
    assert done.status_code == 200, done.text
    assert api.post(path, {"action_taken": "again"}).status_code == 409
    assert api.get("/clinics/clinic-1/alliance-concerns").json()["alliance_concerns"] == []
    names = [e.name for _, e in intake.application.store.read_all()
             if e.subject == f"alliance-{client_id}"]
    assert names == ["AllianceRated", "AllianceConcernFlagged", "AllianceConcernAcknowledged"]


def test_the_clinics_alliance_settings(intake):
    api = intake.api
    assert api.get("/clinics/clinic-1/alliance-settings").json()["default"] is True
    settings = {"instrument": "WAI-SR", "every_sessions": 1, "drop_points": 4}
    assert api.put("/clinics/clinic-1/alliance-settings", settings).status_code == 403
    set_ = api.put("/clinics/clinic-1/alliance-settings", settings, bearer=ADMIN)
    assert set_.status_code == 200 and set_.json()["instrument"] == "WAI-SR"
    bad = api.put("/clinics/clinic-1/alliance-settings", {**settings, "every_sessions": 0},
                  bearer=ADMIN)
    assert bad.status_code == 422 and "every_sessions" in bad.json()["fields"]
    client_id = register(api)
    session_id = hold(intake, client_id, 1)
    rated = wait_until(lambda: (lambda r: r if r.status_code == 201 else None)(api.post(
        rating_path(client_id, session_id), {"item_scores": [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]})),
        message="the held session ratable")
    assert rated.json()["subscales"] == {"goal": {"total": 9, "mean": 2.25},
                                         "task": {"total": 10, "mean": 2.5},
                                         "bond": {"total": 14, "mean": 3.5}}
