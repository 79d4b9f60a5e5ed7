"""End to end across real processes: a session held in scheduling becomes ratable in
intake; the client rates it (a concern: 35 is below 36); the concern shows in the
clinician's notes-due view in notes and on the clinic's list in intake until a
clinician acknowledges it with what was done, then it is gone from both."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import token, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


def test_session_held_rated_by_the_client_concern_in_notes_due_then_acknowledged(praxis):
    intake, scheduling = praxis.api("intake"), praxis.api("scheduling")
    clinician_notes = praxis.api("notes", bearer=token(user="clinician-1"))
    clinician_intake = praxis.api("intake", bearer=token(user="clinician-1"))
    desk = praxis.api("intake", bearer=token(role="front_desk", user="desk-1"))

    response = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
        "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
        "primary_clinician_id": "clinician-1"})
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    as_client = praxis.api("intake", bearer=token(role="client", user="client-ada",
                                                  client_id=client_id))

    def booked():
        response = scheduling.post("/appointments", {
            "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
            "clinician_id": "clinician-1", "duration_minutes": 50, "modality": "video",
            "start": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()})
        return response if response.status_code == 201 else None
    session_id = wait_until(booked, timeout=20, message="scheduling knows the client"
                            ).json()["appointment_id"]
    path = f"/clients/{client_id}/sessions/{session_id}/alliance"
    # Booked, not held: nothing to rate yet.
    early = as_client.post(path, {"item_scores": [9, 9, 9, 8]})
    assert early.status_code == 404 and "session_id" in early.json()["fields"]
    assert scheduling.post(f"/appointments/{session_id}/held",
                           {"minutes": 50}).status_code == 201

    rated = wait_until(lambda: (r := as_client.post(path, {"item_scores": [9, 9, 9, 8]}))
                       .status_code == 201 and r.json(), timeout=20,
                       message="intake knows the session held")
    assert (rated["total"], rated["instrument"], rated["rated_by"]) == (35, "SRS", "client")
    assert desk.get("/clinics/clinic-1/alliance-concerns").status_code == 403

    due = wait_until(lambda: (d := clinician_notes.get("/clinicians/clinician-1/notes-due"))
                     .status_code == 200 and d.json()["alliance_concerns"] and d.json(),
                     timeout=20, message="the concern in the notes-due view")
    (shown,) = due["alliance_concerns"]
    assert (shown["client_id"], shown["session_id"], shown["total"], shown["rules"]) == (
        client_id, session_id, 35, ["below_threshold"])
    (listed,) = clinician_intake.get("/clinics/clinic-1/alliance-concerns").json()[
        "alliance_concerns"]
    assert listed["flag_id"] == shown["flag_id"]

    acknowledged = clinician_intake.post(
        f"/clients/{client_id}/alliance-concerns/{shown['flag_id']}/acknowledge",
        {"action_taken": "talked about the rupture at the start of the next session"})
    assert acknowledged.status_code == 200, acknowledged.text
    assert clinician_intake.get("/clinics/clinic-1/alliance-concerns").json()[
        "alliance_concerns"] == []
    wait_until(lambda: clinician_notes.get("/clinicians/clinician-1/notes-due")
               .json()["alliance_concerns"] == [], timeout=20,
               message="the acknowledged concern gone from notes-due")
