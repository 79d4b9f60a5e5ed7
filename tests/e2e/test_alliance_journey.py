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


def test_approach_outcomes_dropout_risk_and_fhir_across_the_services(praxis):
    """Issue 17 items 3-6 across processes: notes' TreatmentApproachSet reaches intake's
    outcomes by approach; scheduling's no-show and late cancellation with the client's
    alliance concern raise a dropout risk in intake; the rating is in intake's FHIR."""
    intake, scheduling = praxis.api("intake"), praxis.api("scheduling")
    clinician_notes = praxis.api("notes", bearer=token(user="clinician-1"))
    clinician_intake = praxis.api("intake", bearer=token(user="clinician-1"))
    desk_intake = praxis.api("intake", bearer=token(role="front_desk", user="desk-1"))
    desk_notes = praxis.api("notes", bearer=token(role="front_desk", user="desk-1"))

    client_id = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Grace Hopper",
        "date_of_birth": "1986-12-09", "contact": {"email": "grace@example.org"},
        "primary_clinician_id": "clinician-1"}).json()["client_id"]
    for answers in ([2, 2, 2, 2, 2, 2, 2, 1, 0], [1, 1, 1, 1, 1, 0, 0, 0, 0]):  # 15, then 5
        assert intake.post(f"/clients/{client_id}/assessments",
                           {"instrument": "PHQ-9", "answers": answers}).status_code == 201

    def book(start):
        def booked():
            response = scheduling.post("/appointments", {
                "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
                "clinician_id": "clinician-1", "duration_minutes": 50, "modality": "video",
                "start": start.isoformat(), "override_working_hours": True})
            return response if response.status_code == 201 else None
        return wait_until(booked, timeout=20, message="scheduling knows the client"
                          ).json()["appointment_id"]

    now = datetime.now(timezone.utc)
    session_id = book(now - timedelta(days=1))
    assert scheduling.post(f"/appointments/{session_id}/held",
                           {"minutes": 50}).status_code == 201
    rated = wait_until(lambda: (r := clinician_intake.post(
        f"/clients/{client_id}/sessions/{session_id}/alliance",
        {"item_scores": [9, 9, 9, 8]})).status_code == 201 and r.json(), timeout=20,
        message="intake knows the session held")
    assert rated["total"] == 35  # an alliance concern

    # notes: the plan's approach (once notes knows the client)
    approach = wait_until(lambda: (r := clinician_notes.put(
        f"/clients/{client_id}/approach", {"approaches": ["systemic"]})).status_code == 200
        and r.json(), timeout=20, message="notes knows the client")
    assert approach["approaches"] == ["systemic"]
    assert clinician_notes.put(f"/clients/{client_id}/approach",
                               {"approaches": ["hypnosis"]}).json()["fields"].keys() == {
        "approaches.0"}
    assert desk_notes.get(f"/clients/{client_id}/plan").status_code == 403

    # scheduling: a no-show and a late cancellation by the client
    missed = book(now - timedelta(days=2))
    assert scheduling.post(f"/appointments/{missed}/no-show").status_code < 300
    late = book(now + timedelta(hours=2))
    assert scheduling.post(f"/appointments/{late}/cancel",
                           {"cancelled_by": "client"}).status_code < 300

    risks = wait_until(lambda: (r := clinician_intake.get("/clinics/clinic-1/dropout-risks"))
                       .status_code == 200 and r.json()["dropout_risks"], timeout=30,
                       message="intake flags the dropout risk")
    (risk,) = risks
    assert (risk["client_id"], risk["late_cancels"], risk["no_shows"]) == (client_id, 1, 1)
    assert desk_intake.get("/clinics/clinic-1/dropout-risks").status_code == 403
    assert clinician_intake.post(
        f"/clients/{client_id}/dropout-risks/{risk['flag_id']}/acknowledge",
        {"action_taken": "called the client about the missed sessions"}).status_code == 200

    outcomes = wait_until(lambda: (o := clinician_intake.get("/clinics/clinic-1/outcomes")
                                   .json()).get("by_approach", {}).get("systemic") and o,
                          timeout=20, message="intake knows the approach")
    assert outcomes["by_approach"]["systemic"]["recovered"] == 1
    assert outcomes["by_alliance"]["ever_in_concern"]["measured"] == 1

    bundle = clinician_intake.get(f"/fhir/Patient/{client_id}/$everything").json()
    ids = {entry["resource"]["id"] for entry in bundle["entry"]}
    assert {f"alliance-{session_id}", f"alliance-{session_id}-total"} <= ids
