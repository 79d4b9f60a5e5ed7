"""The clinical record over HTTP and RabbitMQ, on SQLite and PostgreSQL: the treatment
plan, progress notes from SessionHeld to signature and addenda, supervision, notes
due, homework, journaling, the chart's timeline, and rebuilding it all."""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from kombu import Connection, Exchange, Queue

from shared.auth import issue_token
from shared.projection import rebuild
from tests.integration.test_notes_service import (  # noqa: F401 (the notes fixture)
    add_to_care_team, assessed, chart_of, known_client, notes, session_held, stored,
)
from tests.support import SECRET, token, wait_until

pytestmark = pytest.mark.integration

LEVELS = {"-2": "0 nights", "-1": "1-2 nights", "0": "3-4 nights", "+1": "5-6 nights",
          "+2": "every night"}
SOAP = {"subjective": "Slept 5 nights of 7", "objective": "Alert, on time",
        "assessment": "Improving", "plan": "Keep the sleep diary"}
CLINICIAN = token(user="clinician-7")  # the clinician session_held() names


def client_token(client_id, user="client-user"):
    return issue_token(SECRET, user, "client", "org-1", ["clinic-1"], client_id=client_id)


def goal(notes, client_id, **overrides):
    body = {"description": "Sleep through the night", "target_date": "2026-09-01",
            "levels": LEVELS, **overrides}
    response = notes.api.post(f"/clients/{client_id}/goals", body)
    assert response.status_code == 201, response.text
    return response.json()["goal_id"]


def held(notes, client_id, start="2026-03-02T10:00:00Z", number=1):
    event = session_held(client_id, start, number)
    from tests.support import publish_event
    publish_event(notes.amqp_uri, event)
    appointment_id = event.data["appointment_id"]
    notes_list = wait_until(lambda: [n for n in notes.api.get(f"/clients/{client_id}/notes")
                                     .json()["notes"] if n["appointment_id"] == appointment_id],
                            message="the session's note opened")
    return appointment_id, notes_list[0]["note_id"]


def listen(amqp_uri, *names):
    """A queue bound to notes.events for these events (of every organisation)."""
    exchange = Exchange("notes.events", type="topic", durable=True)
    connection = Connection(amqp_uri)
    queue = Queue(f"test-{uuid.uuid4().hex[:8]}", exchange=exchange, durable=False,
                  auto_delete=True, bindings=None, routing_key=f"*.{names[0]}")
    channel = connection.default_channel
    queue(channel).declare()
    for name in names[1:]:
        queue(channel).bind_to(exchange, routing_key=f"*.{name}")
    return connection, queue


def drain(connection, queue, count):
    bodies = []

    def got():
        message = queue(connection.default_channel).get(no_ack=True)
        if message is not None:
            bodies.append(json.loads(message.body))
        return len(bodies) >= count
    wait_until(got, message=f"{count} messages on notes.events")
    return bodies


# -- the treatment plan -----------------------------------------------------------------
def test_plan_goals_levels_history_ratings_and_t_score(notes):
    client_id = known_client(notes)
    appointment_id, _ = held(notes, client_id)
    path = f"/clients/{client_id}"
    goals = [goal(notes, client_id, weight=w) for w in (1, 1, 1)]
    unscaled = notes.api.post(f"{path}/goals", {"description": "Walk", "target_date":
                                                "2026-05-01"}).json()
    assert unscaled["levels"] is None and unscaled["weight"] == 1
    assert unscaled["status"] == "active"

    # A rating at the session, and between sessions; the last one counts.
    for goal_id, level in zip(goals, (2, 1, 1)):
        response = notes.api.post(f"{path}/goals/{goal_id}/ratings",
                                  {"level": level, "appointment_id": appointment_id})
        assert response.status_code == 201, response.text
    assert notes.api.post(f"{path}/goals/{goals[0]}/ratings", {"level": 1}).status_code == 201
    # (+1, +1, +1) then revise the third goal, move it on hold and back, rate it 0.
    response = notes.api.request("PATCH", f"{path}/goals/{goals[2]}",
                                 json={"description": "Sleep 6 hours", "reason": "realistic"})
    assert response.status_code == 200 and response.json()["changed"] == ["description"]
    for status in ("on_hold", "active"):
        assert notes.api.post(f"{path}/goals/{goals[2]}/status",
                              {"status": status}).status_code == 200
    assert notes.api.post(f"{path}/goals/{goals[2]}/ratings", {"level": 0}).status_code == 201

    plan = notes.api.get(f"{path}/plan").json()
    assert plan["gas"]["t_score"] == 59.1 and plan["gas"]["goals_rated"] == 3  # (+1, +1, 0)
    third = next(g for g in plan["goals"] if g["goal_id"] == goals[2])
    assert third["description"] == "Sleep 6 hours" and third["levels"] == LEVELS
    assert [h["kind"] for h in third["history"]] == [
        "goal_set", "goal_rated", "goal_revised", "goal_status_changed",
        "goal_status_changed", "goal_rated"]
    assert third["history"][0]["description"] == "Sleep through the night"
    assert [r["level"] for r in third["ratings"]] == [1, 0]
    assert third["ratings"][0]["appointment_id"] == appointment_id

    # Rules answer with their status and store nothing.
    before = len(notes.application.store.read_all(origin="notes"))
    for method, url, body, status in [
        ("POST", f"{path}/goals/{unscaled['goal_id']}/ratings", {"level": 0}, 409),
        ("POST", f"{path}/goals/{goals[0]}/ratings", {"level": 3}, 422),
        ("POST", f"{path}/goals/{goals[0]}/ratings",
         {"level": 0, "appointment_id": str(uuid.uuid4())}, 422),
        ("POST", f"{path}/goals/{goals[0]}/status", {"status": "proposed"}, 409),
        ("POST", f"{path}/goals/{uuid.uuid4()}/status", {"status": "active"}, 404),
        ("POST", f"{path}/goals", {"description": "x", "target_date": "2026-05-01",
                                   "levels": {"0": "only one"}}, 422),
    ]:
        response = notes.api.request(method, url, json=body)
        assert response.status_code == status, (url, body, response.text)
    assert len(notes.application.store.read_all(origin="notes")) == before

    # Completing and cancelling: closed goals keep their terms and leave the score.
    assert notes.api.post(f"{path}/goals/{goals[0]}/status",
                          {"status": "completed"}).status_code == 200
    assert notes.api.request("PATCH", f"{path}/goals/{goals[0]}",
                             json={"weight": 2}).status_code == 409
    assert notes.api.post(f"{path}/goals/{goals[1]}/status",
                          {"status": "cancelled", "reason": "not relevant"}).status_code == 200
    plan = notes.api.get(f"{path}/plan").json()
    assert plan["gas"]["t_score"] == 56.2  # (+1, 0): 50 + 10 / sqrt(0.7*2 + 0.3*4)
    assert {g["goal_id"]: g["status"] for g in plan["goals"]}[goals[1]] == "cancelled"


def test_diagnoses_are_published_and_stage_keeps_its_history(notes):
    client_id = known_client(notes)
    path = f"/clients/{client_id}"
    connection, queue = listen(notes.amqp_uri, "DiagnosesSet", "TreatmentStageSet")
    with connection:
        response = notes.api.put(f"{path}/diagnoses", {"codes": ["F33.1", "f41.1"]})
        assert response.status_code == 200, response.text
        assert response.json()["codes"] == ["F33.1", "F41.1"]
        assert notes.api.put(f"{path}/diagnoses", {"codes": ["F33.1", "F41.1"]}).status_code \
            == 409
        bad = notes.api.put(f"{path}/diagnoses", {"codes": ["sad"]})
        assert bad.status_code == 422 and "codes" in bad.json()["fields"]
        for stage in ("awareness", "change"):
            assert notes.api.put(f"{path}/stage", {"stage": stage}).status_code == 200
        assert notes.api.put(f"{path}/stage", {"stage": "done"}).status_code == 422
        bodies = drain(connection, queue, 3)
    published = {b["type"]: b for b in bodies}
    diagnoses = published["praxis.notes.DiagnosesSet.v1"]
    assert diagnoses["data"]["codes"] == ["F33.1", "F41.1"]
    assert diagnoses["organisationid"] == "org-1" and diagnoses["clinicid"] == "clinic-1"
    plan = notes.api.get(f"{path}/plan").json()
    assert plan["diagnoses"]["codes"] == ["F33.1", "F41.1"]
    assert plan["stage"]["stage"] == "change"
    assert [(h["previous_stage"], h["stage"]) for h in plan["stage_history"]] == [
        (None, "awareness"), ("awareness", "change")]
    for role in ("front_desk", "billing", "integrator"):
        assert notes.api.get(f"{path}/plan", bearer=token(role=role)).status_code == 403
    assert notes.api.get(f"{path}/plan", bearer=client_token(client_id)).status_code == 403
    assert notes.api.get(f"{path}/plan", bearer=token(clinics=["clinic-2"])).status_code == 404


# -- progress notes -------------------------------------------------------------------
def test_session_held_opens_a_note_signed_locked_and_amended(notes):
    client_id = known_client(notes)
    # clinician-8 cares for the client too, and is still not the note's author.
    add_to_care_team(notes, client_id, "clinician-8")
    connection, queue = listen(notes.amqp_uri, "NoteSigned", "ProgressNoteDrafted",
                               "NoteAddendumAdded", "ProgressNoteOpened")
    with connection:
        appointment_id, note_id = held(notes, client_id)
        api = notes.api
        note = api.get(f"/notes/{note_id}").json()
        assert note["status"] == "due" and note["appointment_id"] == appointment_id
        assert note["clinician_id"] == "clinician-7"

        # Only the clinician who held the session drafts it; many drafts.
        assert api.put(f"/notes/{note_id}/draft", {"format": "SOAP", "sections": SOAP}
                       ).status_code == 403  # user-1 did not hold it
        for sections in ({"subjective": "first words"}, SOAP):
            response = api.put(f"/notes/{note_id}/draft", {"format": "SOAP", "sections": sections},
                               bearer=CLINICIAN)
            assert response.status_code == 200, response.text
        bad = api.put(f"/notes/{note_id}/draft", {"format": "SOAP", "sections": {"data": "d"}},
                      bearer=CLINICIAN)
        assert bad.status_code == 422 and "sections.data" in bad.json()["fields"]
        note = api.get(f"/notes/{note_id}").json()
        assert note["status"] == "draft" and note["drafts"] == 2 and note["sections"] == SOAP

        signed = api.post(f"/notes/{note_id}/sign", {}, bearer=CLINICIAN)
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"] == "signed" and signed.json()["signed_by"] == "clinician-7"

        # Locked: any edit is 409 and stores nothing.
        before = len(notes.application.store.read_all(origin="notes"))
        for attempt in (lambda: api.put(f"/notes/{note_id}/draft",
                                        {"format": "SOAP", "sections": SOAP}, bearer=CLINICIAN),
                        lambda: api.post(f"/notes/{note_id}/sign", {}, bearer=CLINICIAN)):
            response = attempt()
            assert response.status_code == 409, response.text
        assert len(notes.application.store.read_all(origin="notes")) == before

        # Addenda, several, each signed by the note's author.
        for text in ("Client phoned: sleeping better", "Correction: the session began 10:05"):
            response = api.post(f"/notes/{note_id}/addenda", {"text": text}, bearer=CLINICIAN)
            assert response.status_code == 201, response.text
        assert api.post(f"/notes/{note_id}/addenda", {"text": ""},
                        bearer=CLINICIAN).status_code == 422
        # Another clinician of the clinic, or an admin, adds none (and nothing is stored).
        before = len(notes.application.store.read_all(origin="notes"))
        for bearer in (token(user="clinician-8"), token(role="admin"),
                       token(role="front_desk")):
            response = api.post(f"/notes/{note_id}/addenda", {"text": "Covering: no concerns"},
                                bearer=bearer)
            assert response.status_code == 403, response.text
        assert len(notes.application.store.read_all(origin="notes")) == before
        note = api.get(f"/notes/{note_id}").json()
        assert [(a["signed_by"], a["text"]) for a in note["addenda"]] == [
            ("clinician-7", "Client phoned: sleeping better"),
            ("clinician-7", "Correction: the session began 10:05")]
        assert note["sections"] == SOAP  # the signed text never changed

        bodies = drain(connection, queue, 2)
    # Only the note being due and its signature travel; no clinical text does.
    assert sorted(b["type"] for b in bodies) == ["praxis.notes.NoteSigned.v1",
                                                 "praxis.notes.ProgressNoteOpened.v1"]
    signed_event = next(b for b in bodies if b["type"].endswith("NoteSigned.v1"))
    assert signed_event["data"]["pending_supervision"] is False
    assert "Slept" not in json.dumps(bodies) and "phoned" not in json.dumps(bodies)
    feed = api.get("/events", params={"limit": 1000},
                   bearer=token(role="admin", clinics=["*"])).json()["events"]
    assert "ProgressNoteDrafted" not in json.dumps(feed) and "Slept" not in json.dumps(feed)


def test_pre_licensed_clinician_needs_the_supervisors_cosignature(notes):
    client_id = known_client(notes)
    # clinician-8 cares for the client too, and is still not the note's author.
    add_to_care_team(notes, client_id, "clinician-8")
    admin = token(role="admin")
    api = notes.api
    response = api.put("/clinicians/clinician-7/supervision",
                       {"pre_licensed": True, "supervisor_id": "supervisor-1"}, bearer=admin)
    assert response.status_code == 200, response.text
    assert response.json()["supervisor_id"] == "supervisor-1"
    assert api.put("/clinicians/clinician-7/supervision", {"pre_licensed": True},
                   bearer=admin).status_code == 422
    assert api.put("/clinicians/clinician-7/supervision", {"pre_licensed": False},
                   bearer=CLINICIAN).status_code == 403

    _, note_id = held(notes, client_id)
    connection, queue = listen(notes.amqp_uri, "NoteSigned", "NoteCoSigned")
    with connection:
        signed = api.post(f"/notes/{note_id}/sign", {"format": "BIRP", "sections": {
            "behavior": "b", "intervention": "i", "response": "r", "plan": "p"}},
            bearer=CLINICIAN)
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"] == "pending_supervision"
        supervisor = token(user="supervisor-1")
        due = api.get("/clinicians/supervisor-1/notes-due", bearer=supervisor).json()
        assert [n["note_id"] for n in due["awaiting_cosignature"]] == [note_id]
        assert api.post(f"/notes/{note_id}/cosign", bearer=token(user="clinician-8")
                        ).status_code == 403
        cosigned = api.post(f"/notes/{note_id}/cosign", bearer=supervisor)
        assert cosigned.status_code == 200, cosigned.text
        assert cosigned.json()["status"] == "signed"
        assert cosigned.json()["cosigned_by"] == "supervisor-1"
        assert api.post(f"/notes/{note_id}/cosign", bearer=supervisor).status_code == 409
        # The co-signing supervisor may amend the note; another clinician may not.
        assert api.post(f"/notes/{note_id}/addenda", {"text": "Reviewed in supervision"},
                        bearer=supervisor).status_code == 201
        assert api.post(f"/notes/{note_id}/addenda", {"text": "x"},
                        bearer=token(user="clinician-8")).status_code == 403
        assert [a["signed_by"] for a in api.get(f"/notes/{note_id}").json()["addenda"]] == [
            "supervisor-1"]
        bodies = drain(connection, queue, 2)
    by_type = {b["type"]: b["data"] for b in bodies}
    assert by_type["praxis.notes.NoteSigned.v1"]["pending_supervision"] is True
    assert by_type["praxis.notes.NoteSigned.v1"]["supervisor_id"] == "supervisor-1"
    assert by_type["praxis.notes.NoteCoSigned.v1"]["note_id"] == note_id


def test_notes_due_per_clinician_with_how_long_overdue(notes):
    client_id = known_client(notes)
    api = notes.api
    now = datetime.now(timezone.utc)
    old = (now - timedelta(hours=100)).isoformat().replace("+00:00", "Z")
    recent = (now - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    _, overdue_id = held(notes, client_id, old, 1)
    _, fresh_id = held(notes, client_id, recent, 2)
    _, signed_id = held(notes, client_id, old, 3)
    assert api.post(f"/notes/{signed_id}/sign", {"format": "DAP", "sections": {
        "data": "d", "assessment": "a", "plan": "p"}}, bearer=CLINICIAN).status_code == 200

    due = api.get("/clinicians/clinician-7/notes-due", bearer=CLINICIAN).json()
    by_id = {n["note_id"]: n for n in due["notes"]}
    assert set(by_id) == {overdue_id, fresh_id} and due["overdue"] == 1
    assert by_id[overdue_id]["overdue"] is True and by_id[overdue_id]["deadline_hours"] == 72
    assert 27.5 <= by_id[overdue_id]["overdue_hours"] <= 29  # 100 h since the session - 72
    assert by_id[fresh_id]["overdue"] is False and by_id[fresh_id]["overdue_seconds"] == 0
    assert by_id[overdue_id]["client_name"] == "Ada Lovelace"

    # The clinic's own deadline: 1 hour makes the recent note overdue too.
    admin = token(role="admin")
    assert api.put("/clinics/clinic-1/note-deadline", {"deadline_hours": 1},
                   bearer=admin).status_code == 200
    assert api.put("/clinics/clinic-1/note-deadline", {"deadline_hours": 0},
                   bearer=admin).status_code == 422
    assert api.put("/clinics/clinic-2/note-deadline", {"deadline_hours": 5},
                   bearer=admin).status_code == 403
    due = api.get("/clinicians/clinician-7/notes-due", bearer=CLINICIAN).json()
    assert due["overdue"] == 2
    # Another clinician does not see them; an admin does.
    assert api.get("/clinicians/clinician-7/notes-due",
                   bearer=token(user="clinician-8")).status_code == 403
    assert len(api.get("/clinicians/clinician-7/notes-due", bearer=admin).json()["notes"]) == 2
    assert api.get("/clinicians/clinician-7/notes-due",
                   bearer=token(role="billing")).status_code == 403


def test_notes_list_shows_due_at_as_the_notes_due_view_does(notes):
    client_id = known_client(notes)
    api = notes.api
    _, unsigned_id = held(notes, client_id, "2026-03-02T10:00:00Z", 1)
    _, signed_id = held(notes, client_id, "2026-03-09T10:00:00Z", 2)
    assert api.post(f"/notes/{signed_id}/sign", {"format": "DAP", "sections": {
        "data": "d", "assessment": "a", "plan": "p"}}, bearer=CLINICIAN).status_code == 200

    def both():
        listed = {n["note_id"]: n for n in api.get(f"/clients/{client_id}/notes").json()["notes"]}
        due = {n["note_id"]: n for n in api.get("/clinicians/clinician-7/notes-due",
                                                bearer=CLINICIAN).json()["notes"]}
        return listed, due

    listed, due = both()
    # 72 hours after the session by default; a signed note keeps the time it was due.
    assert listed[unsigned_id]["due_at"] == due[unsigned_id]["due_at"] == "2026-03-05T10:00:00Z"
    assert listed[signed_id]["due_at"] == "2026-03-12T10:00:00Z"
    assert listed[unsigned_id]["deadline_hours"] == 72
    # The clinic's own deadline moves both views alike.
    assert api.put("/clinics/clinic-1/note-deadline", {"deadline_hours": 24},
                   bearer=token(role="admin")).status_code == 200
    listed, due = both()
    assert listed[unsigned_id]["due_at"] == due[unsigned_id]["due_at"] == "2026-03-03T10:00:00Z"
    assert listed[unsigned_id]["deadline_hours"] == due[unsigned_id]["deadline_hours"] == 24


# -- homework, journaling, the chart, rebuild ------------------------------------------------
def test_homework_journal_chart_timeline_and_rebuild(notes):
    client_id = known_client(notes)
    api = notes.api
    own = client_token(client_id)
    publish = assessed(client_id, 14, "moderate", "2026-02-20T10:00:00Z")
    from tests.support import publish_event
    publish_event(notes.amqp_uri, publish)
    appointment_id, note_id = held(notes, client_id, "2026-03-02T10:00:00Z")
    goal_id = goal(notes, client_id)
    assert api.post(f"/clients/{client_id}/goals/{goal_id}/ratings",
                    {"level": 1, "appointment_id": appointment_id}).status_code == 201
    assert api.post(f"/notes/{note_id}/sign", {"format": "SOAP", "sections": SOAP},
                    bearer=CLINICIAN).status_code == 200

    homework = []
    for instructions in ("Sleep diary every night", "Wind-down routine"):
        response = api.post(f"/clients/{client_id}/homework", {
            "goal_id": goal_id, "instructions": instructions, "due_date": "2026-03-09"})
        assert response.status_code == 201, response.text
        homework.append(response.json()["homework_id"])
    assert api.post(f"/clients/{client_id}/homework", {
        "goal_id": str(uuid.uuid4()), "instructions": "x", "due_date": "2026-03-09"}
    ).status_code == 422
    done = api.post(f"/clients/{client_id}/homework/{homework[0]}/done",
                    {"reflection": "Noticed I sleep better after walks"}, bearer=own)
    assert done.status_code == 200, done.text
    assert api.post(f"/clients/{client_id}/homework/{homework[0]}/done",
                    {"reflection": "again"}, bearer=own).status_code == 409
    # The clinician does not mark it done for the client.
    assert api.post(f"/clients/{client_id}/homework/{homework[1]}/done",
                    {"reflection": "x"}).status_code == 403
    listed = api.get(f"/clients/{client_id}/homework", bearer=own).json()
    assert (listed["assigned"], listed["completed"], listed["completion_rate"]) == (2, 1, 0.5)

    private = api.post(f"/clients/{client_id}/journal",
                       {"mood": 3, "text": "Only for me"}, bearer=own)
    shared = api.post(f"/clients/{client_id}/journal",
                      {"mood": 7, "text": "Slept well", "shared": True}, bearer=own)
    assert private.status_code == 201 and shared.status_code == 201
    assert private.json()["shared"] is False

    plan = api.get(f"/clients/{client_id}/plan").json()
    assert plan["homework"]["completion_rate"] == 0.5
    assert plan["goals"][0]["homework"] == {"assigned": 2, "completed": 1,
                                            "completion_rate": 0.5}

    chart = chart_of(notes, client_id)
    assert {"client", "goals", "assessments", "sessions"} <= set(chart)
    assert [n["status"] for n in chart["notes"]] == ["signed"]
    assert [j["text"] for j in chart["journal"]] == ["Slept well"]
    assert "Only for me" not in json.dumps(chart)
    assert "Slept 5 nights" not in json.dumps(chart)  # note text lives at /notes/<id>
    kinds = [item["kind"] for item in chart["timeline"]]
    for kind in ("assessment", "session_held", "goal_set", "goal_rated", "note_signed",
                 "homework_assigned", "homework_completed", "journal_entry"):
        assert kind in kinds, kind
    times = [item["at"] for item in chart["timeline"]]
    assert times == sorted(times)
    assert kinds.index("assessment") < kinds.index("session_held") < kinds.index("goal_set")

    store, projection = notes.application.store, notes.application.projection
    with store.read() as conn:
        before = projection.snapshot(conn)
    plan_before = api.get(f"/clients/{client_id}/plan").json()
    rebuild(store)
    with store.read() as conn:
        assert projection.snapshot(conn) == before
    assert chart_of(notes, client_id) == chart
    assert api.get(f"/clients/{client_id}/plan").json() == plan_before
