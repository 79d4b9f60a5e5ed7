"""End to end across real processes: a session held in scheduling opens its progress
note in notes; the clinician drafts and signs it, then amends it with an addendum;
the signature is published (without clinical text) and the chart shows it all."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import token, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"
SOAP = {"subjective": "Slept five nights of seven", "objective": "Calm, on time",
        "assessment": "Improving", "plan": "Continue the sleep diary"}


def test_session_held_to_signed_note_with_addendum(praxis):
    intake, scheduling, notes = praxis.api("intake"), praxis.api("scheduling"), praxis.api("notes")
    clinician = praxis.api("notes", bearer=token(user="clinician-1"))

    response = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
        "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"}})
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]

    def booked():
        response = scheduling.post("/appointments", {
            "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
            "clinician_id": "clinician-1", "duration_minutes": 50, "modality": "video",
            "start": (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()})
        return response if response.status_code == 201 else None
    appointment_id = wait_until(booked, timeout=20, message="scheduling knows the client"
                                ).json()["appointment_id"]
    held = scheduling.post(f"/appointments/{appointment_id}/held", {"minutes": 50})
    assert held.status_code == 201, held.text

    # SessionHeld reaches notes: the session's note is due for clinician-1.
    due = wait_until(lambda: (d := clinician.get("/clinicians/clinician-1/notes-due"))
                     .status_code == 200 and d.json()["notes"] and d.json(),
                     timeout=20, message="the note due in notes")
    (note,) = due["notes"]
    assert note["appointment_id"] == appointment_id and note["status"] == "due"
    note_id = note["note_id"]

    assert clinician.put(f"/notes/{note_id}/draft", {"format": "SOAP", "sections": {
        "subjective": "Slept five nights"}}).status_code == 200
    assert clinician.put(f"/notes/{note_id}/draft",
                         {"format": "SOAP", "sections": SOAP}).status_code == 200
    signed = clinician.post(f"/notes/{note_id}/sign", {})
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed" and signed.json()["signed_by"] == "clinician-1"

    edit = clinician.put(f"/notes/{note_id}/draft", {"format": "SOAP", "sections": SOAP})
    assert edit.status_code == 409, edit.text
    addendum = clinician.post(f"/notes/{note_id}/addenda",
                              {"text": "Client phoned the next day: slept well"})
    assert addendum.status_code == 201, addendum.text

    note = notes.get(f"/notes/{note_id}").json()
    assert note["sections"] == SOAP and note["status"] == "signed"
    assert [(a["signed_by"], a["text"]) for a in note["addenda"]] == [
        ("clinician-1", "Client phoned the next day: slept well")]
    assert clinician.get("/clinicians/clinician-1/notes-due").json()["notes"] == []

    chart = notes.get(f"/clients/{client_id}/chart").json()
    assert [(n["note_id"], n["status"], n["addenda"]) for n in chart["notes"]] == [
        (note_id, "signed", 1)]
    assert "note_signed" in [item["kind"] for item in chart["timeline"]]
    assert [s["appointment_id"] for s in chart["sessions"]] == [appointment_id]

    # The feed other services replay carries the signature, never the note's text.
    feed = notes.get("/events", params={"limit": 1000}).json()["events"]
    types = [e["event"]["type"] for e in feed]
    assert "praxis.notes.NoteSigned.v1" in types
    assert "praxis.notes.ProgressNoteDrafted.v1" not in types
    assert "praxis.notes.NoteAddendumAdded.v1" not in types
    assert "Slept" not in str(feed) and "phoned" not in str(feed)

    # Rebuilt read models answer the same.
    result = praxis.cli("rebuild", "notes")
    assert result.returncode == 0, result.stderr
    assert notes.get(f"/clients/{client_id}/chart").json() == chart
    assert notes.get(f"/notes/{note_id}").json() == note
