"""Secure messaging across the four real service processes, on both engines: a client
registered in intake messages their care team in notes outside office hours and gets
the clinic's auto-reply; their clinician sees the unread count, reads, leaves the
receipt, replies and flags the message onto the chart's timeline; nobody else reads it;
its text is in no log line and in no events table in plain."""
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from shared.config import SERVICES
from tests.support import token, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


def unread_gauge(api):
    found = {}
    for family in text_string_to_metric_families(api.get("/metrics", bearer="").text):
        for sample in family.samples:
            if sample.name == "praxis_messages_unread_over_a_day":
                found[sample.labels["clinician"]] = sample.value
    return found


def test_client_messages_their_care_team(praxis):
    mark = uuid.uuid4().hex[:8]
    words = f"i-feel-hopeless-{mark}"
    crisis = f"Call the crisis line 988 ({mark})"
    clinician_id = f"dr-{mark}"
    admin = praxis.api("notes")
    assert admin.put(f"/clinics/{CLINIC}/messaging-settings", {
        "time_zone": "Europe/London", "office_hours": [],  # never open: always an auto-reply
        "crisis_line": crisis}).status_code == 200
    registered = praxis.api("intake").post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": f"Mess{mark} Age",
        "date_of_birth": "1990-01-02", "contact": {"email": f"m{mark}@example.org"},
        "primary_clinician_id": clinician_id})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    other = praxis.api("intake").post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": f"Other{mark}",
        "date_of_birth": "1980-01-02", "contact": {"email": f"o{mark}@example.org"}}
    ).json()["client_id"]
    client = praxis.api("notes", bearer=token(role="client", user=f"client-{mark}",
                                              client_id=client_id))
    carer = praxis.api("notes", bearer=token(user=clinician_id))
    thread = f"/clients/{client_id}/messages"

    sent = wait_until(lambda: (r := client.post(thread, {"text": words})).status_code == 201
                      and r, timeout=30, message="notes to know the client").json()
    messages = client.get(thread).json()["messages"]
    assert [m["sender_role"] for m in messages] == ["client", "clinic"]
    assert messages[1]["text"].startswith(crisis)

    unread = carer.get(f"/clinicians/{clinician_id}/messages/unread").json()
    assert unread["unread"] == 1 and unread["threads"][0]["client_id"] == client_id
    assert [m["text"] for m in carer.get(thread).json()["messages"]][0] == words
    assert carer.post(f"{thread}/{sent['message_id']}/read").status_code == 200
    assert carer.get(f"/clinicians/{clinician_id}/messages/unread").json()["unread"] == 0
    reply = carer.post(thread, {"text": f"calling you at noon {mark}"}).json()
    assert client.post(f"{thread}/{reply['message_id']}/read").status_code == 200
    receipts = {m["message_id"]: [r["reader_id"] for r in m["read_by"]]
                for m in client.get(thread).json()["messages"]}
    assert receipts[sent["message_id"]] == [clinician_id]
    assert receipts[reply["message_id"]] == [f"client-{mark}"]
    assert len(receipts) == 3  # no auto-reply to a clinician's message

    assert carer.post(f"{thread}/{sent['message_id']}/flag").status_code == 200
    timeline = carer.get(f"/clients/{client_id}/chart").json()["timeline"]
    (flagged,) = [i for i in timeline if i["kind"] == "message_flagged"]
    assert flagged["id"] == sent["message_id"] and flagged["text"] == words

    for who, bearer, status in (
            ("front desk", token(role="front_desk"), 403),
            ("a clinician outside the care team", token(user=f"stranger-{mark}"), 404),
            ("another client", token(role="client", user=f"other-{mark}", client_id=other),
             404),
            ("another organisation's admin", token(role="admin", org="org-2",
                                                   clinics=["*"]), 404)):
        response = praxis.api("notes", bearer=bearer).get(thread)
        assert response.status_code == status, who
        assert words not in response.text, who
    assert praxis.api("notes", bearer=token(role="front_desk")).get(
        f"/clinicians/{clinician_id}/messages/unread").status_code == 403
    # The gauge knows the clinician (0: nothing unread for over a day).
    assert unread_gauge(praxis.api("notes")).get(clinician_id) == 0

    for service in SERVICES:
        log = (praxis.log_dir / f"{service}.log").read_text()
        assert words not in log and crisis not in log, f"{service}'s log holds the text"
        engine = create_engine(praxis.env[f"PRAXIS_{service.upper()}_DATABASE_URL"])
        with engine.connect() as conn:
            stored = "\n".join(conn.execute(text("SELECT envelope FROM events")).scalars())
        engine.dispose()
        assert words not in stored, f"{service}'s events table holds the message in plain"
        if service == "notes":
            assert sent["message_id"] in stored  # stored there, sealed
