"""Sensitive fields at rest, through the four real service processes: after a
journey that writes a name, a date of birth, contact details, a member id, a goal,
note sections, an addendum, a psychotherapy note, homework, a journal entry, a
message and a cancellation's reason, no events table of any service holds one of them, while
the APIs (and the consumers, which seal what they keep under their own keys)
still read them."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from shared.config import SERVICES
from tests.support import token, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


def test_no_events_table_holds_a_sensitive_canary(praxis):
    mark = uuid.uuid4().hex[:8]
    canary = {
        "name": f"Quillfeather{mark} Zebulon", "email": f"zq{mark}@example.org",
        "member_id": f"MBR{mark}", "goal": f"sleep-through-{mark}",
        "section": f"dreams-of-the-lighthouse-{mark}", "addendum": f"phoned-{mark}",
        "private": f"countertransference-{mark}", "homework": f"diary-{mark}",
        "journal": f"a-hard-week-{mark}", "message": f"can-we-talk-{mark}",
        "reason": f"car-broke-down-{mark}"}
    intake, scheduling, notes = praxis.api("intake"), praxis.api("scheduling"), \
        praxis.api("notes")
    clinician = praxis.api("notes", bearer=token(user="clinician-1"))

    response = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": canary["name"],
        "date_of_birth": "1961-07-23", "contact": {"email": canary["email"]},
        "payer": {"kind": "insurer", "insurer_name": "Acme", "member_id": canary["member_id"]}})
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    client = praxis.api("notes", bearer=token(role="client", user=f"client-{mark}",
                                              client_id=client_id))

    goal = wait_until(lambda: (r := notes.post(f"/clients/{client_id}/goals", {
        "description": canary["goal"], "target_date": "2031-03-01"})).status_code == 201 and r,
        timeout=30, message="notes to know the client").json()

    def book(days_ago):
        response = scheduling.post("/appointments", {
            "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
            "clinician_id": "clinician-1", "duration_minutes": 50, "modality": "video",
            "start": (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat()})
        return response.json()["appointment_id"] if response.status_code == 201 else None
    held_id = wait_until(lambda: book(1), timeout=30, message="scheduling knows the client")
    assert scheduling.post(f"/appointments/{held_id}/held", {"minutes": 50}).status_code == 201
    cancelled_id = book(-3)
    cancel = scheduling.post(f"/appointments/{cancelled_id}/cancel",
                             {"cancelled_by": "client", "reason": canary["reason"]})
    assert cancel.status_code == 200, cancel.text

    note_id = wait_until(lambda: (d := clinician.get("/clinicians/clinician-1/notes-due").json())
                         ["notes"] and d["notes"][0]["note_id"], timeout=30,
                         message="the session's note in notes")
    signed = clinician.post(f"/notes/{note_id}/sign", {"format": "DAP", "sections": {
        "data": canary["section"], "assessment": "steady", "plan": "continue"}})
    assert signed.status_code == 200, signed.text
    assert clinician.post(f"/notes/{note_id}/addenda",
                          {"text": canary["addendum"]}).status_code == 201
    assert clinician.post("/psychotherapy-notes", {
        "client_id": client_id, "text": canary["private"]}).status_code == 201
    assert notes.post(f"/clients/{client_id}/homework", {
        "goal_id": goal["goal_id"], "instructions": canary["homework"],
        "due_date": "2031-01-01"}).status_code == 201
    assert client.post(f"/clients/{client_id}/journal", {
        "mood": 4, "text": canary["journal"], "shared": True}).status_code == 201
    assert client.post(f"/clients/{client_id}/messages",
                       {"text": canary["message"]}).status_code == 201

    # Billing has consumed the registration (its own sealed copy) and charged the session.
    billing = praxis.api("billing")
    wait_until(lambda: billing.get(f"/clients/{client_id}/balance").status_code == 200,
               timeout=30, message="billing to know the client")

    # The APIs still read what was written.
    assert intake.get(f"/clients/{client_id}").json()["name"] == canary["name"]
    assert notes.get(f"/notes/{note_id}").json()["sections"]["data"] == canary["section"]
    assert notes.get(f"/clients/{client_id}/messages").json()["messages"][0]["text"] \
        == canary["message"]

    for service in SERVICES:
        engine = create_engine(praxis.env[f"PRAXIS_{service.upper()}_DATABASE_URL"])
        with engine.connect() as conn:
            stored = "\n".join(conn.execute(text("SELECT envelope FROM events")).scalars())
            keys = conn.execute(text("SELECT count(*) FROM data_keys")).scalar()
        engine.dispose()
        assert client_id in stored, service  # the service did store the client's events
        leaked = sorted(kind for kind, value in canary.items() if value in stored)
        assert leaked == [], f"{service}'s events table holds {leaked} in plain text"
        assert keys >= 1, f"{service} sealed nothing under a data key of its own"
