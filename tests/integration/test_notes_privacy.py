"""Psychotherapy notes and journals: who may reach them, tried with every role.

A psychotherapy note is its author's only: no other clinician, no admin, no
front desk, billing, integrator or client reads it; it is never published,
never in the /events feed, the chart or the plan, and no read model but the
author's own view holds its text. A journal entry is the client's; clinicians
and admins see shared entries only.
"""
import json
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from shared.auth import issue_token
from shared.projection import rebuild
from shared.store import events_table
from tests.integration.test_notes_service import (  # noqa: F401 (the notes fixture)
    chart_of, known_client, notes,
)
from tests.support import SECRET, token, wait_until

pytestmark = pytest.mark.integration

SECRET_TEXT = "Countertransference: I felt impatient when she spoke of her father"
AUTHOR = token(user="clinician-7")


def client_token(client_id, user="client-user", clinics=("clinic-1",)):
    return issue_token(SECRET, user, "client", "org-1", list(clinics), client_id=client_id)


def everyone_else(client_id):
    """Every token that is not the author's, by what it is."""
    return {
        "another clinician": token(user="clinician-8"),
        "admin of the clinic": token(role="admin", user="clinician-7-admin"),
        "admin of every clinic": token(role="admin", clinics=["*"]),
        "the author's id as admin": token(role="admin", user="clinician-7"),
        "front desk": token(role="front_desk"),
        "billing": token(role="billing"),
        "integrator": token(role="integrator", clinics=["*"]),
        "the client": client_token(client_id),
        "the author in another clinic": token(user="clinician-7", clinics=["clinic-2"]),
        "the author's id in another organisation": token(user="clinician-7", org="org-2",
                                                         clinics=["*"]),
    }


def test_psychotherapy_notes_reach_their_author_only(notes):
    client_id = known_client(notes)
    api = notes.api
    exchange = Exchange("notes.events", type="topic", durable=True)
    everything = Queue(f"test-all-{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key="#",
                       durable=False, auto_delete=True)
    with Connection(notes.amqp_uri) as connection:
        everything(connection.default_channel).declare()
        written = api.post("/psychotherapy-notes", {"client_id": client_id, "text": SECRET_TEXT},
                           bearer=AUTHOR)
        assert written.status_code == 201, written.text
        note_id = written.json()["note_id"]
        assert written.json()["author_id"] == "clinician-7"
        revised = api.put(f"/psychotherapy-notes/{note_id}",
                          {"text": SECRET_TEXT + " (revised)"}, bearer=AUTHOR)
        assert revised.status_code == 200 and revised.json()["revisions"] == 1
        # A goal set after it: a published event proves the relay ran past the note.
        assert api.post(f"/clients/{client_id}/goals", {
            "description": "d", "target_date": "2026-09-01"}).status_code == 201
        wait_until(lambda: notes.application.store.outbox_status()[0] == 0,
                   message="outbox drained")
        messages = []
        while (message := everything(connection.default_channel).get(no_ack=True)) is not None:
            messages.append(message.body if isinstance(message.body, str)
                            else message.body.decode())
    assert [json.loads(m)["type"] for m in messages] == ["praxis.notes.GoalSet.v1"]

    # The author reads, lists and revises it.
    assert api.get(f"/psychotherapy-notes/{note_id}", bearer=AUTHOR).json()["text"] \
        == SECRET_TEXT + " (revised)"
    assert [n["note_id"] for n in api.get("/psychotherapy-notes", params={
        "client_id": client_id}, bearer=AUTHOR).json()["notes"]] == [note_id]

    # Nobody else reaches it, whatever their role: it does not exist for them.
    for who, bearer in everyone_else(client_id).items():
        read = api.get(f"/psychotherapy-notes/{note_id}", bearer=bearer)
        assert read.status_code == 404, who
        rewrite = api.put(f"/psychotherapy-notes/{note_id}", {"text": "tampered"},
                          bearer=bearer)
        assert rewrite.status_code == 404, who
        listed = api.get("/psychotherapy-notes", bearer=bearer)
        assert listed.status_code in (200, 403), who
        if listed.status_code == 200:
            assert listed.json()["notes"] == [], who
        for path in (f"/clients/{client_id}/chart", f"/clients/{client_id}/plan",
                     f"/clients/{client_id}/notes", f"/clients/{client_id}/journal",
                     f"/clients/{client_id}/homework", "/events"):
            response = api.get(path, bearer=bearer)
            assert SECRET_TEXT not in response.text, (who, path)
    assert api.get(f"/psychotherapy-notes/{note_id}", bearer=AUTHOR).json()["text"] \
        == SECRET_TEXT + " (revised)"
    # Only clinicians write them; the admin feed holds no trace.
    for role in ("admin", "front_desk", "billing", "integrator"):
        assert api.post("/psychotherapy-notes", {"client_id": client_id, "text": "x"},
                        bearer=token(role=role)).status_code == 403
    feed = api.get("/events", params={"limit": 1000}, bearer=token(role="admin",
                                                                   clinics=["*"])).text
    assert "Psychotherapy" not in feed and SECRET_TEXT not in feed
    assert SECRET_TEXT not in json.dumps(chart_of(notes, client_id))

    # No read model other than the author's own view holds the text (before and after
    # a rebuild); the store keeps it unpublished.
    store, projection = notes.application.store, notes.application.projection
    rebuild(store)
    with store.read() as conn:
        snapshot = projection.snapshot(conn)
    holders = [table for table, rows in snapshot.items() if SECRET_TEXT in repr(rows)]
    assert holders == ["authors_psychotherapy_notes"]
    with store.read() as conn:
        rows = conn.execute(select(events_table.c.type, events_table.c.published).where(
            events_table.c.type.like("%Psychotherapy%"))).all()
    assert sorted(tuple(r) for r in rows) == [("praxis.notes.PsychotherapyNoteRevised.v1", False),
                            ("praxis.notes.PsychotherapyNoteWritten.v1", False)]


def test_journal_entries_are_the_clients_and_clinicians_see_shared_ones(notes):
    client_id = known_client(notes)
    other_client = known_client(notes, "Grace Hopper")
    api = notes.api
    own = client_token(client_id)
    path = f"/clients/{client_id}/journal"
    private = api.post(path, {"mood": 2, "text": "Only for me"}, bearer=own).json()
    shared = api.post(path, {"mood": 8, "text": "For my therapist", "shared": True},
                      bearer=own).json()

    # The client sees both; clinicians and admins the shared one only.
    assert [e["text"] for e in api.get(path, bearer=own).json()["entries"]] == [
        "Only for me", "For my therapist"]
    for bearer in (token(), token(user="clinician-7"), token(role="admin", clinics=["*"])):
        entries = api.get(path, bearer=bearer).json()["entries"]
        assert [e["entry_id"] for e in entries] == [shared["entry_id"]]
    # Other roles, other clients and other clinics do not reach the journal.
    for bearer, status in ((token(role="front_desk"), 403), (token(role="billing"), 403),
                           (token(role="integrator"), 403),
                           (client_token(other_client, "other-user"), 404),
                           (token(clinics=["clinic-2"]), 404),
                           (client_token(client_id, clinics=("clinic-2",)), 404)):
        response = api.get(path, bearer=bearer)
        assert response.status_code == status, response.text
        assert "Only for me" not in response.text
    # Only the client writes in or shares their journal.
    for bearer in (token(), token(role="admin"), client_token(other_client, "other-user")):
        assert api.post(path, {"mood": 5, "text": "forged"}, bearer=bearer).status_code in (
            403, 404)
        assert api.put(f"{path}/{private['entry_id']}/sharing", {"shared": True},
                       bearer=bearer).status_code in (403, 404)
    assert api.post(path, {"mood": 11, "text": "x"}, bearer=own).status_code == 422
    assert api.post(path, {"mood": 5, "text": ""}, bearer=own).status_code == 422

    # Sharing and taking back.
    assert api.put(f"{path}/{private['entry_id']}/sharing", {"shared": True},
                   bearer=own).json()["shared"] is True
    assert len(api.get(path).json()["entries"]) == 2
    assert api.put(f"{path}/{private['entry_id']}/sharing", {"shared": False},
                   bearer=own).json()["shared"] is False
    assert [e["text"] for e in api.get(path).json()["entries"]] == ["For my therapist"]
    chart = chart_of(notes, client_id)
    assert [e["text"] for e in chart["journal"]] == ["For my therapist"]
    assert "Only for me" not in json.dumps(chart)
    # Journal events are never published.
    feed = api.get("/events", params={"limit": 1000}, bearer=token(role="admin")).text
    assert "Only for me" not in feed and "Journal" not in feed


def test_client_tokens_reach_their_own_homework_and_journal_only(notes):
    client_id = known_client(notes)
    other = known_client(notes, "Grace Hopper")
    api = notes.api
    own = client_token(client_id)
    for path in ("chart", "plan", "notes"):
        assert api.get(f"/clients/{client_id}/{path}", bearer=own).status_code == 403
    assert api.get(f"/clients/{client_id}/homework", bearer=own).status_code == 200
    assert api.get(f"/clients/{other}/homework", bearer=own).status_code == 404
    assert api.get(f"/clients/{other}/journal", bearer=own).status_code == 404
    assert api.post(f"/clients/{client_id}/goals", {"description": "d",
                                                    "target_date": "2026-09-01"},
                    bearer=own).status_code == 403
