"""Notes' tenancy comes from its own stored records, never from ids the caller sends.

Tokens of organisation 1, clinic 1 try every notes route on the records of
another organisation (org-2, whose clinic is also called clinic-1), of another
clinic of their own organisation, and on made-up ids; and their own client's
path with another client's goal, note, homework or journal entry. Each is 404
(403 where the request itself names a clinic the token lacks), with and
without `clinic_id` naming their own clinic, stores nothing and says nothing
of the other record.
"""
import dataclasses
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from shared.auth import issue_token
from tests.integration.test_notes_service import (  # noqa: F401 (the notes fixture)
    assessed, chart_of, known_client, notes, registered, session_held, stored,
)
from tests.support import SECRET, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

SOAP = {"subjective": "FOREIGN-SUBJECTIVE", "objective": "o", "assessment": "a", "plan": "p"}
GOAL = {"description": "A goal of our own", "target_date": "2026-09-01",
        "levels": {"-2": "a", "-1": "b", "0": "c", "+1": "d", "+2": "e"}}


def client_token(client_id, org="org-1", clinic="clinic-1"):
    return issue_token(SECRET, f"client-{client_id[:8]}", "client", org, [clinic],
                       client_id=client_id)


def ok(response, status=(200, 201)):
    assert response.status_code in ((status,) if isinstance(status, int) else status), \
        response.text
    return response.json()


def records_of(notes, org, clinic, name):
    """A client of (org, clinic) with a goal, a signed note, homework, a shared journal
    entry and a psychotherapy note, each made by that tenant's own tokens."""
    admin = token(role="admin", org=org, clinics=[clinic])
    clinician = token(user="clinician-7", org=org, clinics=[clinic])
    client_id = str(uuid.uuid4())
    publish_event(notes.amqp_uri, registered(client_id, name, org=org, clinic=clinic))
    wait_until(lambda: chart_of(notes, client_id, bearer=admin), message=f"{name} registered")
    api = notes.api
    goal_id = ok(api.post(f"/clients/{client_id}/goals", {
        **GOAL, "description": f"FOREIGN-GOAL of {name}"}, bearer=admin))["goal_id"]
    held = session_held(client_id, "2026-03-02T10:00:00Z", 1, org=org, clinic=clinic)
    publish_event(notes.amqp_uri, held)
    appointment_id = held.data["appointment_id"]
    (note,) = wait_until(lambda: api.get(f"/clients/{client_id}/notes", bearer=admin)
                         .json()["notes"], message=f"{name}'s note opened")
    ok(api.post(f"/notes/{note['note_id']}/sign", {"format": "SOAP", "sections": SOAP},
                bearer=clinician))
    homework_id = ok(api.post(f"/clients/{client_id}/homework", {
        "goal_id": goal_id, "instructions": "FOREIGN-HOMEWORK", "due_date": "2026-03-09"},
        bearer=admin))["homework_id"]
    entry_id = ok(api.post(f"/clients/{client_id}/journal", {
        "mood": 4, "text": "FOREIGN-JOURNAL", "shared": True},
        bearer=client_token(client_id, org, clinic)))["entry_id"]
    psychotherapy_id = ok(api.post("/psychotherapy-notes", {
        "client_id": client_id, "text": "FOREIGN-PSYCHOTHERAPY"}, bearer=clinician))["note_id"]
    return {"client": client_id, "goal": goal_id, "note": note["note_id"],
            "appointment": appointment_id, "homework": homework_id, "entry": entry_id,
            "psychotherapy": psychotherapy_id, "name": name}


def made_up():
    return {"client": str(uuid.uuid4()), "goal": str(uuid.uuid4()), "note": str(uuid.uuid4()),
            "appointment": str(uuid.uuid4()), "homework": str(uuid.uuid4()),
            "entry": str(uuid.uuid4()), "psychotherapy": str(uuid.uuid4()), "name": "Nobody"}


def attempts(own, other):
    """(who, method, path, body, status): every notes route aimed at `other`'s records,
    or at `other`'s child records under `own`'s client path."""
    clinician = token(user="clinician-7")  # the same user id that wrote other's records
    admin = token(role="admin")
    own_client = client_token(own["client"])
    o, c, mine = other, other["client"], own["client"]
    draft = {"format": "SOAP", "sections": SOAP}
    return [
        # the other client's own paths
        (admin, "POST", f"/clients/{c}/goals", GOAL, 404),
        (admin, "PATCH", f"/clients/{c}/goals/{o['goal']}", {"weight": 2}, 404),
        (admin, "POST", f"/clients/{c}/goals/{o['goal']}/status", {"status": "on_hold"}, 404),
        (admin, "POST", f"/clients/{c}/goals/{o['goal']}/ratings", {"level": 1}, 404),
        (admin, "PUT", f"/clients/{c}/diagnoses", {"codes": ["F32.1"]}, 404),
        (admin, "PUT", f"/clients/{c}/stage", {"stage": "change"}, 404),
        (admin, "GET", f"/clients/{c}/plan", None, 404),
        (admin, "GET", f"/clients/{c}/chart", None, 404),
        (admin, "GET", f"/clients/{c}/notes", None, 404),
        (admin, "POST", f"/clients/{c}/homework", {
            "goal_id": o["goal"], "instructions": "x", "due_date": "2026-04-01"}, 404),
        (admin, "GET", f"/clients/{c}/homework", None, 404),
        (admin, "GET", f"/clients/{c}/journal", None, 404),
        (own_client, "POST", f"/clients/{c}/homework/{o['homework']}/done",
         {"reflection": "x"}, 404),
        (own_client, "POST", f"/clients/{c}/journal", {"mood": 3, "text": "x"}, 404),
        (own_client, "PUT", f"/clients/{c}/journal/{o['entry']}/sharing", {"shared": False},
         404),
        # the other client's child records under our own client's path
        (admin, "PATCH", f"/clients/{mine}/goals/{o['goal']}", {"weight": 2}, 404),
        (admin, "POST", f"/clients/{mine}/goals/{o['goal']}/status", {"status": "on_hold"},
         404),
        (admin, "POST", f"/clients/{mine}/goals/{o['goal']}/ratings", {"level": 1}, 404),
        (admin, "POST", f"/clients/{mine}/goals/{own['goal']}/ratings",
         {"level": 1, "appointment_id": o["appointment"]}, 422),
        (admin, "POST", f"/clients/{mine}/homework", {
            "goal_id": o["goal"], "instructions": "x", "due_date": "2026-04-01"}, 422),
        (own_client, "POST", f"/clients/{mine}/homework/{o['homework']}/done",
         {"reflection": "x"}, 404),
        (own_client, "PUT", f"/clients/{mine}/journal/{o['entry']}/sharing", {"shared": False},
         404),
        # the other client's progress note, by the clinician id that held its session
        (clinician, "GET", f"/notes/{o['note']}", None, 404),
        (clinician, "PUT", f"/notes/{o['note']}/draft", draft, 404),
        (clinician, "POST", f"/notes/{o['note']}/sign", draft, 404),
        (clinician, "POST", f"/notes/{o['note']}/cosign", None, 404),
        (clinician, "POST", f"/notes/{o['note']}/addenda", {"text": "x"}, 404),
        (admin, "GET", f"/notes/{o['note']}", None, 404),
        # psychotherapy notes, by the author's user id
        (clinician, "POST", "/psychotherapy-notes", {"client_id": c, "text": "x"}, 404),
        (clinician, "GET", f"/psychotherapy-notes?client_id={c}", None, 404),
        (clinician, "GET", f"/psychotherapy-notes/{o['psychotherapy']}", None, 404),
        (clinician, "PUT", f"/psychotherapy-notes/{o['psychotherapy']}", {"text": "x"}, 404),
    ]


def foreign_marks(other):
    """What no answer to us may contain about the other record."""
    return [v for k, v in other.items() if k != "name"] + [
        other["name"], "FOREIGN-"]


@pytest.mark.parametrize("where", ["another organisation", "another clinic", "made-up ids"])
def test_records_out_of_reach_are_404_whatever_ids_come_with_them(notes, where):
    own = {"client": known_client(notes)}
    own["goal"] = ok(notes.api.post(f"/clients/{own['client']}/goals", GOAL))["goal_id"]
    other = {"another organisation": lambda: records_of(notes, "org-2", "clinic-1",
                                                         "Olga Otherorg"),
             "another clinic": lambda: records_of(notes, "org-1", "clinic-2",
                                                  "Clara Otherclinic"),
             "made-up ids": made_up}[where]()
    before = notes.application.store.read_all()
    for bearer, method, path, body, status in attempts(own, other):
        # Naming our own clinic, or the other record's, widens nothing.
        for params in ({}, {"clinic_id": "clinic-1"}, {"clinic_id": "clinic-2"}):
            response = notes.api.request(method, path, json=body, params=params,
                                         bearer=bearer)
            expected = status
            if path.startswith("/psychotherapy-notes?") and params.get("clinic_id") \
                    == "clinic-2":
                expected = 403  # the request itself names a clinic the token lacks
            assert response.status_code == expected, (where, method, path, params,
                                                      response.text)
            for mark in foreign_marks(other):
                assert mark not in response.text, (where, method, path, mark, response.text)
    # The RPC twins of the reads answer alike.
    with ClusterRpcProxy({"AMQP_URI": notes.amqp_uri}) as rpc:
        for call in (rpc.notes.chart, rpc.notes.plan):
            with pytest.raises(RemoteError) as refused:
                call(token(role="admin"), other["client"])
            assert refused.value.exc_type == "NotFound"
            assert not any(mark in str(refused.value) for mark in foreign_marks(other))
        due = rpc.notes.notes_due(token(user="clinician-7"), "clinician-7")
        assert not any(mark in repr(due) for mark in foreign_marks(other))
    assert notes.application.store.read_all() == before  # nothing stored
    # The lists of our own reach show none of it.
    clinician = token(user="clinician-7")
    for path in ("/clinicians/clinician-7/notes-due", "/psychotherapy-notes",
                 f"/clients/{own['client']}/chart"):
        body = ok(notes.api.get(path, bearer=clinician)).__repr__()
        assert not any(mark in body for mark in foreign_marks(other)), (path, body)


def test_an_other_tenants_event_naming_our_client_changes_nothing_of_ours(notes):
    client_id = known_client(notes)
    ours = session_held(client_id, "2026-02-23T10:00:00Z", 1)
    our_assessment = assessed(client_id, 14, "moderate", "2026-02-20T10:00:00Z")
    for event in (ours, our_assessment):
        publish_event(notes.amqp_uri, event)
    wait_until(lambda: stored(notes, ours) and stored(notes, our_assessment),
               message="our session and assessment recorded")
    # Another organisation's intake registers and renames the same client id, and its
    # scheduling holds a session with it (forged or misrouted events).
    # (at positions of their own: the store refuses a second event at one position)
    foreign = [dataclasses.replace(registered(client_id, "Mallory Forged", org="org-2"),
                                   sequence=7),
               make_event("intake", "ClientDetailsUpdated", {
                   "client_id": client_id, "changes": {"name": "Mallory Renamed"},
                   "updated_at": "2026-03-01T10:00:00Z"}, f"client-{client_id}", org="org-2",
                   sequence=8),
               make_event("intake", "ClientDetailsUpdated", {
                   "client_id": client_id, "changes": {"name": "Clinic Two Renamed"},
                   "updated_at": "2026-03-01T10:00:00Z"}, f"client-{client_id}",
                   clinic="clinic-2", sequence=9),
               session_held(client_id, "2026-03-02T10:00:00Z", 1, org="org-2"),
               # our session's and assessment's ids again, from the other organisation
               dataclasses.replace(session_held(
                   client_id, "2026-03-03T10:00:00Z", 5, minutes=10, org="org-2",
                   appointment_id=ours.data["appointment_id"]), sequence=7),
               dataclasses.replace(assessed(
                   client_id, 27, "severe", "2026-03-03T10:00:00Z", org="org-2",
                   assessment_id=our_assessment.data["assessment_id"]), sequence=10)]
    for event in foreign:
        publish_event(notes.amqp_uri, event)
    wait_until(lambda: all(stored(notes, e) for e in foreign), message="all recorded")

    chart = chart_of(notes, client_id)
    assert chart["client"] == {"client_id": client_id, "name": "Ada Lovelace",
                               "organisation_id": "org-1", "clinic_id": "clinic-1"}
    assert [(s["appointment_id"], s["minutes"]) for s in chart["sessions"]] == [
        (ours.data["appointment_id"], 50)]
    assert [a["total"] for a in chart["assessments"]] == [14]
    other_org = token(role="admin", org="org-2", clinics=["*"])
    assert notes.api.get(f"/clients/{client_id}/chart", bearer=other_org).status_code == 404
    assert notes.api.post(f"/clients/{client_id}/goals", GOAL,
                          bearer=other_org).status_code == 404
    # org-2's own note of that session is theirs, but it names nobody of ours.
    due = ok(notes.api.get("/clinicians/clinician-7/notes-due",
                           bearer=token(user="clinician-7", org="org-2", clinics=["*"])))
    assert [(n["client_name"], n["session_start"]) for n in due["notes"]] == [
        (None, "2026-03-02T10:00:00Z")]
    assert "Ada" not in repr(due)
    assert [n["appointment_id"] for n in ok(notes.api.get(f"/clients/{client_id}/notes"))
            ["notes"]] == [ours.data["appointment_id"]]


def test_a_rating_names_a_session_the_caller_may_see(notes):
    client_id = known_client(notes)
    goal_id = ok(notes.api.post(f"/clients/{client_id}/goals", GOAL))["goal_id"]
    # The same client, once seen at clinic-2 of the organisation.
    elsewhere = session_held(client_id, "2026-03-02T10:00:00Z", 1, clinic="clinic-2")
    here = session_held(client_id, "2026-03-09T10:00:00Z", 2)
    for event in (elsewhere, here):
        publish_event(notes.amqp_uri, event)
    wait_until(lambda: stored(notes, elsewhere) and stored(notes, here), message="recorded")
    path = f"/clients/{client_id}/goals/{goal_id}/ratings"
    before = len(notes.application.store.read_all(origin="notes"))
    refused = notes.api.post(path, {"level": 1,
                                    "appointment_id": elsewhere.data["appointment_id"]})
    assert refused.status_code == 422 and "appointment_id" in refused.json()["fields"]
    assert len(notes.application.store.read_all(origin="notes")) == before
    assert notes.api.post(path, {"level": 1, "appointment_id": here.data["appointment_id"]}
                          ).status_code == 201
    # A token of both clinics may name the session at clinic-2.
    both = token(role="admin", clinics=["clinic-1", "clinic-2"])
    assert notes.api.post(path, {"level": 0, "appointment_id": elsewhere.data["appointment_id"]},
                          bearer=both).status_code == 201


def test_supervision_is_reached_through_the_clinic_it_was_set_in(notes):
    api = notes.api
    clinic_two = token(role="admin", clinics=["clinic-2"])
    clinic_one = token(role="admin", clinics=["clinic-1"])
    ok(api.put("/clinicians/clinician-9/supervision",
               {"pre_licensed": True, "supervisor_id": "supervisor-2"}, bearer=clinic_two))
    before = len(notes.application.store.read_all(origin="notes"))
    for body, status in (({"pre_licensed": False}, 404),
                         ({"pre_licensed": False, "clinic_id": "clinic-1"}, 404),
                         ({"pre_licensed": False, "clinic_id": "clinic-2"}, 403)):
        response = api.put("/clinicians/clinician-9/supervision", body, bearer=clinic_one)
        assert response.status_code == status, (body, response.text)
        assert "supervisor-2" not in response.text
    read = api.get("/clinicians/clinician-9/supervision", bearer=token(clinics=["clinic-1"]))
    assert read.status_code == 404 and "supervisor-2" not in read.text
    assert len(notes.application.store.read_all(origin="notes")) == before
    # Another organisation's clinician-9 is another person: nothing set there.
    other_org = ok(api.get("/clinicians/clinician-9/supervision",
                           bearer=token(org="org-2", clinics=["*"])))
    assert other_org["pre_licensed"] is False and other_org["supervisor_id"] is None
    # Its own clinic reads and changes it; the record stays in its clinic.
    assert ok(api.get("/clinicians/clinician-9/supervision",
                      bearer=token(clinics=["clinic-2"])))["supervisor_id"] == "supervisor-2"
    ok(api.put("/clinicians/clinician-9/supervision", {"pre_licensed": False},
               bearer=token(role="admin", clinics=["*"])))
    assert api.get("/clinicians/clinician-9/supervision",
                   bearer=token(clinics=["clinic-1"])).status_code == 404


def test_a_clinics_note_deadline_is_its_organisations_own(notes):
    api = notes.api
    ok(api.put("/clinics/clinic-1/note-deadline", {"deadline_hours": 5},
               bearer=token(role="admin", org="org-2", clinics=["clinic-1"])))
    assert ok(api.get("/clinics/clinic-1/note-deadline"))["deadline_hours"] == 72
    for method, body in (("GET", None), ("PUT", {"deadline_hours": 5})):
        response = api.request(method, "/clinics/clinic-2/note-deadline", json=body,
                               bearer=token(role="admin"))
        assert response.status_code == 403, response.text
