"""Secure messaging through notes' HTTP API, on both engines and the real broker: a
client's thread with their care team, who reaches it (tried with every role and
another tenant's ids), bounds with nothing stored, the text sealed at rest and in no
published event, and an audit row for every read."""
import json
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from shared.audit import audit_trail
from shared.auth import issue_token
from shared.encryption import SEALED
from shared.store import events_table
from tests.integration.test_notes_service import (  # noqa: F401 (the notes fixture)
    known_client, notes,
)
from tests.support import SECRET, token, wait_until

pytestmark = pytest.mark.integration

SECRET_TEXT = "I have been thinking about ending things again"
CARER = token(user="user-1")  # the client's primary clinician


def client_token(client_id, user="client-ada"):
    return issue_token(SECRET, user, "client", "org-1", ["clinic-1"], client_id=client_id)


def own_events(notes, name):
    return [e for _, e in notes.application.store.read_all(limit=10 ** 6, origin="notes")
            if e.name == name]


def test_client_and_care_team_message_with_receipts_and_unread_counts(notes):
    client_id = known_client(notes, care_team=())
    api, client = notes.api, client_token(client_id)
    sent = api.post(f"/clients/{client_id}/messages", {"text": SECRET_TEXT}, bearer=client)
    assert sent.status_code == 201, sent.text
    message_id = sent.json()["message_id"]
    unread = api.get("/clinicians/user-1/messages/unread", bearer=CARER).json()
    assert unread["unread"] == 1 and unread["threads"][0]["client_id"] == client_id
    thread = api.get(f"/clients/{client_id}/messages", bearer=CARER).json()["messages"]
    assert [m["text"] for m in thread] == [SECRET_TEXT]
    read = api.post(f"/clients/{client_id}/messages/{message_id}/read", bearer=CARER)
    assert read.status_code == 200 and [r["reader_id"] for r in read.json()["read_by"]] == [
        "user-1"]
    assert api.get("/clinicians/user-1/messages/unread", bearer=CARER).json()["unread"] == 0
    reply = api.post(f"/clients/{client_id}/messages", {"text": "Let us talk today"},
                     bearer=CARER).json()
    api.post(f"/clients/{client_id}/messages/{reply['message_id']}/read", bearer=client)
    mine = api.get(f"/clients/{client_id}/messages", bearer=client).json()["messages"]
    assert [(m["sender_role"], len(m["read_by"])) for m in mine] == [
        ("client", 1), ("clinician", 1)]
    flagged = api.post(f"/clients/{client_id}/messages/{message_id}/flag", bearer=CARER)
    assert flagged.status_code == 200 and flagged.json()["flagged"]
    timeline = api.get(f"/clients/{client_id}/chart", bearer=CARER).json()["timeline"]
    assert [i["id"] for i in timeline if i["kind"] == "message_flagged"] == [message_id]


def test_who_reaches_a_thread(notes):
    client_id = known_client(notes, care_team=())
    other_client = known_client(notes, care_team=())
    foreign = known_client(notes, care_team=(), org="org-2")
    api = notes.api
    message_id = api.post(f"/clients/{client_id}/messages", {"text": SECRET_TEXT},
                          bearer=client_token(client_id)).json()["message_id"]
    path = f"/clients/{client_id}/messages"
    refused = {  # who -> the status every messaging route of this client answers
        "front desk": (token(role="front_desk"), 403),
        "billing": (token(role="billing"), 403),
        "integrator": (token(role="integrator", clinics=["*"]), 403),
        "privacy officer": (token(role="privacy_officer"), 403),
        "a clinician outside the care team": (token(user="clinician-9"), 404),
        "another client": (client_token(other_client, user="client-other"), 404),
        "the carer's id in another organisation": (
            token(user="user-1", org="org-2", clinics=["*"]), 404),
        "the carer in another clinic": (token(user="user-1", clinics=["clinic-2"]), 404),
    }
    for who, (bearer, status) in refused.items():
        assert api.get(path, bearer=bearer).status_code == status, who
        assert api.post(path, {"text": "hello"}, bearer=bearer).status_code == status, who
        assert api.post(f"{path}/{message_id}/read", bearer=bearer).status_code == status, who
        for response in (api.get(path, bearer=bearer), api.post(path, {"text": "x"},
                                                                bearer=bearer)):
            assert SECRET_TEXT not in response.text, who
    assert api.get("/clinicians/user-1/messages/unread",
                   bearer=token(role="front_desk")).status_code == 403
    assert api.get("/clinicians/user-1/messages/unread",
                   bearer=token(user="clinician-9")).status_code == 403
    # Another organisation's client, and a message of another client under one's path.
    assert api.get(f"/clients/{foreign}/messages", bearer=CARER).status_code == 404
    other_message = api.post(f"/clients/{other_client}/messages", {"text": "theirs"},
                             bearer=client_token(other_client, user="client-other")
                             ).json()["message_id"]
    assert api.post(f"{path}/{other_message}/read",
                    bearer=client_token(client_id)).status_code == 404
    assert api.post(f"{path}/{message_id}/flag",
                    bearer=client_token(client_id)).status_code == 403  # clinicians flag
    # Only the client's own message and the other client's exist: nothing refused stored.
    assert len(own_events(notes, "MessageSent")) == 2
    assert own_events(notes, "MessageRead") == []


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(notes):
    client_id = known_client(notes, care_team=())
    api, client = notes.api, client_token(client_id)
    for body, field in (({"text": ""}, "text"), ({"text": "   "}, "text"),
                        ({"text": "x" * 5001}, "text"), ({}, "text"),
                        ({"text": 7}, "text")):
        response = api.post(f"/clients/{client_id}/messages", body, bearer=client)
        assert response.status_code == 422, body
        assert field in response.json()["fields"], body
    admin = token(role="admin")
    for body, field in (
            ({"time_zone": "Nowhere/City", "office_hours": [], "crisis_line": "Call 988"},
             "time_zone"),
            ({"time_zone": "UTC", "office_hours": [{"weekday": 7, "start": "09:00",
                                                    "end": "17:00"}],
              "crisis_line": "Call 988"}, "office_hours"),
            ({"time_zone": "UTC", "office_hours": [], "crisis_line": ""}, "crisis_line")):
        response = api.put("/clinics/clinic-1/messaging-settings", body, bearer=admin)
        assert response.status_code == 422, body
        assert field in json.dumps(response.json()["fields"]), body
    assert own_events(notes, "MessageSent") == []
    assert own_events(notes, "MessagingSettingsSet") == []


def test_auto_reply_outside_office_hours(notes):
    client_id = known_client(notes, care_team=())
    api, client = notes.api, client_token(client_id)
    admin = token(role="admin")
    assert api.get("/clinics/clinic-1/messaging-settings", bearer=admin).json()[
        "auto_reply"] is None
    put = api.put("/clinics/clinic-1/messaging-settings", {
        "time_zone": "America/New_York", "office_hours": [], "crisis_line": "Call 988 now"},
        bearer=admin)
    assert put.status_code == 200 and put.json()["auto_reply"].startswith("Call 988 now")
    assert api.get("/clinics/clinic-1/messaging-settings",
                   bearer=token(role="front_desk")).status_code == 200  # settings, no text
    api.post(f"/clients/{client_id}/messages", {"text": "Are you there?"}, bearer=client)
    thread = api.get(f"/clients/{client_id}/messages", bearer=client).json()["messages"]
    assert [m["sender_role"] for m in thread] == ["client", "clinic"]
    assert thread[1]["text"].startswith("Call 988 now")
    api.put("/clinics/clinic-1/messaging-settings", {
        "time_zone": "UTC", "crisis_line": "Call 988 now",
        "office_hours": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]},
        bearer=admin)
    api.post(f"/clients/{client_id}/messages", {"text": "Again"}, bearer=client)
    assert len(api.get(f"/clients/{client_id}/messages", bearer=client).json()[
        "messages"]) == 3  # within office hours: no auto-reply


def test_text_sealed_at_rest_never_published_and_every_read_audited(notes):
    client_id = known_client(notes, care_team=())
    api = notes.api
    exchange = Exchange("notes.events", type="topic", durable=True)
    everything = Queue(f"test-all-{uuid.uuid4().hex[:8]}", exchange=exchange, routing_key="#",
                       durable=False, auto_delete=True)
    with Connection(notes.amqp_uri) as connection:
        everything(connection.default_channel).declare()
        message_id = api.post(f"/clients/{client_id}/messages", {"text": SECRET_TEXT},
                              bearer=client_token(client_id)).json()["message_id"]
        api.post(f"/clients/{client_id}/messages/{message_id}/flag", bearer=CARER)
        # A goal after it: a published event shows the relay ran past the messages.
        assert api.post(f"/clients/{client_id}/goals", {
            "description": "d", "target_date": "2026-09-01"}).status_code == 201
        wait_until(lambda: notes.application.store.outbox_status()[0] == 0,
                   message="outbox drained")
        bodies = []
        while (message := everything(connection.default_channel).get(no_ack=True)) is not None:
            bodies.append(message.body if isinstance(message.body, str)
                          else message.body.decode())
    assert [json.loads(b)["type"] for b in bodies] == ["praxis.notes.GoalSet.v1"]
    feed = api.get("/events", params={"limit": 1000}, bearer=token(role="admin"))
    assert feed.status_code == 200 and SECRET_TEXT not in feed.text
    with notes.application.store.engine.connect() as conn:
        stored = [r.envelope for r in conn.execute(select(events_table.c.envelope))]
        (sent,) = [e for e in stored if "MessageSent" in e]
        assert SECRET_TEXT not in " ".join(stored) and SEALED in sent
        api.get(f"/clients/{client_id}/messages", bearer=CARER)
    with notes.application.store.engine.connect() as conn:
        rows = conn.execute(select(audit_trail).where(audit_trail.c.route.in_((
            "POST /clients/<uuid:client_id>/messages",
            "GET /clients/<uuid:client_id>/messages"))).order_by(audit_trail.c.seq)
        ).mappings().all()
    assert [(r["user_id"], r["action"], r["client_id"]) for r in rows] == [
        ("client-ada", "change", client_id), ("user-1", "read", client_id)]
    assert all(SECRET_TEXT not in json.dumps(dict(r), default=str) for r in rows)
