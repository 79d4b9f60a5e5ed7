"""Notes' application driven directly (issue 13): commands, queries and their refusals,
and reactions to foreign events fed as envelopes through `consume`, on a SQLite file
with no broker and no HTTP. The rules themselves are unit-tested
(tests/unit/test_notes_*.py); this tier checks that each command loads its aggregate,
saves what the domain decided in the caller's tenancy and correlation, and that the
queries show it."""
import uuid

import pytest

from services.notes.application import NotesApplication
from shared.auth import ALL_CLINICS, Principal
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.paging import PageQuery
from tests.support import make_event

ORG, CLINIC = "org-1", "clinic-1"
CLINICIAN = Principal("clinician-7", "clinician", ORG, (CLINIC,))
SUPERVISOR = Principal("supervisor-1", "clinician", ORG, (CLINIC,))
OTHER_CLINICIAN = Principal("clinician-8", "clinician", ORG, (CLINIC,))
ADMIN = Principal("admin-1", "admin", ORG, (ALL_CLINICS,))
OTHER_ORG = Principal("clinician-7", "clinician", "org-2", (CLINIC,))
SOAP = {"subjective": "Slept badly", "objective": "Tired, on time",
        "assessment": "Low mood persists", "plan": "Sleep diary"}
LEVELS = {"-2": "no nights", "-1": "one night", "0": "three nights", "+1": "five nights",
          "+2": "every night"}
PAGE = PageQuery().load({})


def by(principal):
    """The caller of one request, with a correlation of its own."""
    return Caller(principal, f"correlation-{uuid.uuid4()}")


@pytest.fixture
def app(tmp_path):
    application = NotesApplication(f"sqlite:///{tmp_path}/notes.db")
    yield application
    application.store.engine.dispose()


def registered(app, org=ORG):
    client_id = str(uuid.uuid4())
    assert app.consume(make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org"}, "primary_clinician_id": CLINICIAN.user_id,
        "registered_at": "2026-01-05T09:00:00Z"}, f"client-{client_id}",
        org=org).to_dict()) == "applied"
    return client_id


def session_held(client_id, appointment_id=None, clinician_id=CLINICIAN.user_id):
    appointment_id = appointment_id or str(uuid.uuid4())
    return make_event("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id,
        "clinician_id": clinician_id, "start": "2026-01-12T15:00:00Z", "minutes": 50,
        "modality": "video", "session_type": "individual", "place_of_service": "office",
        "audio_only": False, "session_number": 1}, f"appointment-{appointment_id}",
        sequence=2)


def held_note(app, client_id):
    """A session held with the client: the id of the progress note it opened."""
    event = session_held(client_id)
    app.consume(event.to_dict())
    (note,) = [n for n in app.client_notes(CLINICIAN, client_id, PAGE)["notes"]
               if n["appointment_id"] == event.data["appointment_id"]]
    return note["note_id"]


def own_events(app, name=None):
    return [e for _, e in app.store.read_all(limit=10 ** 6, origin="notes")
            if name is None or e.name == name]


# -- the reaction: a session held opens its note -----------------------------------
def test_a_session_held_opens_one_due_note_in_its_cause_s_correlation(app):
    client_id = registered(app)
    event = session_held(client_id)
    assert app.consume(event.to_dict()) == "applied"
    assert app.consume(event.to_dict()) == "duplicate"
    # The same session told again in another envelope still opens one note.
    again = make_event("scheduling", "SessionHeld", event.data, event.subject, sequence=3)
    assert app.consume(again.to_dict()) == "applied"
    (opened,) = own_events(app, "ProgressNoteOpened")
    assert (opened.correlationid, opened.causationid) == (event.correlationid, event.id)
    assert (opened.organisationid, opened.clinicid) == (ORG, CLINIC)
    due = app.notes_due(CLINICIAN, CLINICIAN.user_id)
    assert [n["note_id"] for n in due["notes"]] == [opened.data["note_id"]]
    assert due["notes"][0]["status"] == "due" and due["notes"][0]["client_name"] == "Ada Lovelace"


# -- progress notes: draft, sign, lock, addenda ----------------------------------------
def test_a_draft_is_signed_and_then_locked_with_addenda_only(app):
    note_id = held_note(app, registered(app))
    caller = by(CLINICIAN)
    with pytest.raises(Conflict):  # nothing saved yet
        app.sign_note(caller, note_id, {})
    with pytest.raises(Forbidden):  # only the clinician who held the session writes it
        app.save_draft(by(OTHER_CLINICIAN), note_id, {"format": "SOAP", "sections": SOAP})
    app.save_draft(caller, note_id, {"format": "SOAP", "sections": {**SOAP, "plan": ""}})
    with pytest.raises(InvalidInput) as caught:
        app.sign_note(caller, note_id, {})
    assert list(caught.value.fields) == ["sections.plan"]
    with pytest.raises(Conflict):  # an addendum is for a signed note
        app.add_addendum(caller, note_id, {"text": "too early"})
    app.save_draft(caller, note_id, {"format": "SOAP", "sections": SOAP})
    signed = app.sign_note(caller, note_id, {})
    assert (signed["status"], signed["signed_by"], signed["drafts"]) == \
        ("signed", CLINICIAN.user_id, 2)
    with pytest.raises(Conflict):
        app.save_draft(caller, note_id, {"format": "SOAP", "sections": SOAP})
    with pytest.raises(Conflict):
        app.sign_note(caller, note_id, {})
    with pytest.raises(Forbidden):
        app.add_addendum(by(OTHER_CLINICIAN), note_id, {"text": "not mine to amend"})
    amended = app.add_addendum(caller, note_id, {"text": "Client called: slept better"})
    assert [a["text"] for a in amended["addenda"]] == ["Client called: slept better"]
    signed_event = own_events(app, "NoteSigned")[0]
    assert signed_event.correlationid == caller.correlation_id


def test_a_draft_given_with_the_signature_is_saved_and_signed_at_once(app):
    note_id = held_note(app, registered(app))
    with pytest.raises(InvalidInput):  # a format without its sections
        app.sign_note(by(CLINICIAN), note_id, {"format": "SOAP"})
    signed = app.sign_note(by(CLINICIAN), note_id, {"format": "SOAP", "sections": SOAP})
    assert (signed["status"], signed["sections"], signed["drafts"]) == ("signed", SOAP, 1)
    assert [e.name for e in own_events(app)][-2:] == ["ProgressNoteDrafted", "NoteSigned"]


def test_a_pre_licensed_clinician_s_note_waits_for_the_supervisor_s_cosignature(app):
    client_id = registered(app)
    app.set_supervision(by(ADMIN), CLINICIAN.user_id,
                        {"pre_licensed": True, "supervisor_id": SUPERVISOR.user_id,
                         "clinic_id": CLINIC})
    assert app.supervision(ADMIN, CLINICIAN.user_id)["supervisor_id"] == SUPERVISOR.user_id
    note_id = held_note(app, client_id)
    signed = app.sign_note(by(CLINICIAN), note_id, {"format": "SOAP", "sections": SOAP})
    assert (signed["status"], signed["supervisor_id"]) == \
        ("pending_supervision", SUPERVISOR.user_id)
    waiting = app.notes_due(SUPERVISOR, SUPERVISOR.user_id)["awaiting_cosignature"]
    assert [n["note_id"] for n in waiting] == [note_id]
    with pytest.raises(Forbidden):
        app.cosign_note(by(OTHER_CLINICIAN), note_id)
    cosigned = app.cosign_note(by(SUPERVISOR), note_id)
    assert (cosigned["status"], cosigned["cosigned_by"]) == ("signed", SUPERVISOR.user_id)
    with pytest.raises(Conflict):
        app.cosign_note(by(SUPERVISOR), note_id)
    # The supervisor answers for the note too: they may amend it.
    app.add_addendum(by(SUPERVISOR), note_id, {"text": "Reviewed in supervision"})


def test_a_licensed_clinician_s_note_needs_no_cosignature(app):
    note_id = held_note(app, registered(app))
    app.sign_note(by(CLINICIAN), note_id, {"format": "SOAP", "sections": SOAP})
    with pytest.raises(Conflict):
        app.cosign_note(by(SUPERVISOR), note_id)


def test_supervision_and_the_deadline_are_put_outright_and_the_last_one_stands(app):
    for pre_licensed, supervisor in ((True, SUPERVISOR.user_id), (False, None)):
        app.set_supervision(by(ADMIN), CLINICIAN.user_id, {
            "pre_licensed": pre_licensed, "supervisor_id": supervisor, "clinic_id": CLINIC})
    assert app.supervision(ADMIN, CLINICIAN.user_id)["pre_licensed"] is False
    with pytest.raises(InvalidInput):  # an admin of every clinic names the clinic
        app.set_supervision(by(ADMIN), "clinician-9", {"pre_licensed": False})
    for hours in (48, 24):
        app.set_note_deadline(by(ADMIN), CLINIC, {"deadline_hours": hours})
    assert app.note_deadline(ADMIN, CLINIC)["deadline_hours"] == 24
    assert [e.sequence for e in own_events(app, "NoteDeadlineSet")] == [1, 2]


def test_a_note_of_another_organisation_does_not_exist(app):
    note_id = held_note(app, registered(app))
    with pytest.raises(NotFound):
        app.sign_note(by(OTHER_ORG), note_id, {"format": "SOAP", "sections": SOAP})
    with pytest.raises(NotFound):
        app.note(OTHER_ORG, note_id)


# -- the treatment plan ------------------------------------------------------------------
def goal(app, client_id, **terms):
    return app.set_goal(by(CLINICIAN), client_id, {
        "description": "Sleep through the night", "target_date": "2026-09-01",
        "instrument": None, "target_score": None, "levels": LEVELS, **terms})["goal_id"]


def test_goals_move_along_their_lifecycle_and_are_rated(app):
    client_id = registered(app)
    goal_id = goal(app, client_id, status="proposed")
    with pytest.raises(Conflict):  # only an active goal is rated
        app.rate_goal(by(CLINICIAN), client_id, goal_id, {"level": 0})
    app.change_goal_status(by(CLINICIAN), client_id, goal_id, {"status": "active"})
    app.rate_goal(by(CLINICIAN), client_id, goal_id, {"level": 1})
    with pytest.raises(InvalidInput):  # a session that was never held with the client
        app.rate_goal(by(CLINICIAN), client_id, goal_id,
                      {"level": 1, "appointment_id": str(uuid.uuid4())})
    app.change_goal_status(by(CLINICIAN), client_id, goal_id,
                           {"status": "completed", "reason": "sleeping well"})
    with pytest.raises(Conflict):  # a closed goal goes nowhere
        app.change_goal_status(by(CLINICIAN), client_id, goal_id, {"status": "active"})
    with pytest.raises(Conflict):  # and keeps its terms
        app.revise_goal(by(CLINICIAN), client_id, goal_id, {"description": "Sleep more"})
    app.set_diagnoses(by(CLINICIAN), client_id, {"codes": ["F33.1"]})
    with pytest.raises(Conflict):
        app.set_diagnoses(by(CLINICIAN), client_id, {"codes": ["F33.1"]})
    app.set_stage(by(CLINICIAN), client_id, {"stage": "change"})
    plan = app.plan(CLINICIAN, client_id)
    (shown,) = plan["goals"]
    assert (shown["status"], shown["latest_level"]) == ("completed", 1)
    assert [h["kind"] for h in shown["history"]] == [
        "goal_set", "goal_status_changed", "goal_rated", "goal_status_changed"]
    assert plan["diagnoses"]["codes"] == ["F33.1"] and plan["stage"]["stage"] == "change"
    assert plan["gas"]["t_score"] == 60.0
    with pytest.raises(NotFound):
        app.set_goal(by(OTHER_ORG), client_id, {
            "description": "x", "target_date": "2026-09-01", "instrument": None,
            "target_score": None})


# -- between sessions ----------------------------------------------------------------------
def test_homework_goes_towards_an_open_goal_and_is_done_once(app):
    client_id = registered(app)
    client = Principal("client-user", "client", ORG, (CLINIC,), client_id=client_id)
    goal_id = goal(app, client_id)
    homework = app.assign_homework(by(CLINICIAN), client_id, {
        "goal_id": goal_id, "instructions": "Keep a sleep diary", "due_date": "2026-03-09"})
    done = app.complete_homework(by(client), client_id, homework["homework_id"],
                                 {"reflection": "Helped on 4 nights"})
    assert done["done"] and done["reflection"] == "Helped on 4 nights"
    with pytest.raises(Conflict):
        app.complete_homework(by(client), client_id, homework["homework_id"],
                              {"reflection": "again"})
    other_client = registered(app)
    with pytest.raises(NotFound):  # homework of another client is not there
        app.complete_homework(by(CLINICIAN), other_client, homework["homework_id"],
                              {"reflection": "x"})
    assert app.client_homework(CLINICIAN, client_id, PAGE)["completion_rate"] == 1.0
    app.change_goal_status(by(CLINICIAN), client_id, goal_id, {"status": "cancelled"})
    with pytest.raises(Conflict):
        app.assign_homework(by(CLINICIAN), client_id, {
            "goal_id": goal_id, "instructions": "More diary", "due_date": "2026-03-16"})


def test_journal_entries_stay_the_client_s_until_shared(app):
    client_id = registered(app)
    client = Principal("client-user", "client", ORG, (CLINIC,), client_id=client_id)
    entry = app.write_journal_entry(by(client), client_id, {"mood": 4, "text": "A long week"})
    assert app.journal(CLINICIAN, client_id, PAGE)["entries"] == []
    assert [e["entry_id"] for e in app.journal(client, client_id, PAGE)["entries"]] == \
        [entry["entry_id"]]
    app.share_journal_entry(by(client), client_id, entry["entry_id"], {"shared": True})
    app.share_journal_entry(by(client), client_id, entry["entry_id"], {"shared": True})
    assert len(own_events(app, "JournalEntrySharingChanged")) == 1  # unchanged: nothing new
    assert [e["text"] for e in app.journal(CLINICIAN, client_id, PAGE)["entries"]] == \
        ["A long week"]
    with pytest.raises(NotFound):  # a client reaches their own record only
        app.write_journal_entry(by(client), registered(app), {"mood": 4, "text": "x"})


# -- psychotherapy notes ------------------------------------------------------------------
def test_a_psychotherapy_note_exists_for_its_author_only(app):
    client_id = registered(app)
    note = app.write_psychotherapy_note(by(CLINICIAN), {"client_id": client_id,
                                                        "text": "Transference?"})
    revised = app.revise_psychotherapy_note(by(CLINICIAN), note["note_id"],
                                            {"text": "Transference, clearly"})
    assert (revised["text"], revised["revisions"]) == ("Transference, clearly", 1)
    for other in (OTHER_CLINICIAN, ADMIN):
        with pytest.raises(NotFound):
            app.psychotherapy_note(other, note["note_id"])
        with pytest.raises(NotFound):
            app.revise_psychotherapy_note(by(other), note["note_id"], {"text": "mine now"})
    with pytest.raises(Forbidden):
        app.write_psychotherapy_note(by(ADMIN), {"client_id": client_id, "text": "x"})
    assert "Transference" not in repr(app.chart(CLINICIAN, client_id))  # nor in the chart


# -- secure messaging ----------------------------------------------------------------------
ALWAYS_OPEN = [{"weekday": day, "start": "00:00", "end": "24:00"} for day in range(7)]
CRISIS = "In a crisis call 988 or go to your nearest emergency department."


def client_of(client_id):
    return Principal("client-user", "client", ORG, (CLINIC,), client_id=client_id)


def test_a_thread_carries_receipts_and_unread_counts_per_clinician(app):
    client_id = registered(app)
    client = client_of(client_id)
    sent = app.send_message(by(client), client_id, {"text": "Can we talk about Tuesday?"})
    assert sent["sender_role"] == "client" and sent["read_by"] == []
    unread = app.unread_messages(CLINICIAN, CLINICIAN.user_id)
    assert unread["unread"] == 1 and unread["threads"] == [{
        "client_id": client_id, "clinic_id": CLINIC, "unread": 1,
        "oldest_unread_at": sent["sent_at"]}]
    assert app.unread_messages(OTHER_CLINICIAN, OTHER_CLINICIAN.user_id)["unread"] == 0
    read = app.mark_message_read(by(CLINICIAN), client_id, sent["message_id"])
    app.mark_message_read(by(CLINICIAN), client_id, sent["message_id"])  # a receipt once
    assert [r["reader_id"] for r in read["read_by"]] == [CLINICIAN.user_id]
    assert len(own_events(app, "MessageRead")) == 1
    assert app.unread_messages(CLINICIAN, CLINICIAN.user_id)["unread"] == 0
    reply = app.send_message(by(CLINICIAN), client_id, {"text": "Yes, at 3pm."})
    app.mark_message_read(by(client), client_id, reply["message_id"])
    thread = app.thread(client, client_id, PAGE)["messages"]
    assert [(m["sender_role"], [r["reader_id"] for r in m["read_by"]]) for m in thread] == [
        ("client", [CLINICIAN.user_id]), ("clinician", ["client-user"])]
    with pytest.raises(Forbidden):  # a clinician counts their own unread messages only
        app.unread_messages(CLINICIAN, OTHER_CLINICIAN.user_id)


def test_a_client_reaches_their_own_thread_only(app):
    client_id, other = registered(app), registered(app)
    theirs = app.send_message(by(Principal("other-user", "client", ORG, (CLINIC,),
                                           client_id=other)), other, {"text": "Mine"})
    with pytest.raises(NotFound):
        app.thread(client_of(client_id), other, PAGE)
    with pytest.raises(NotFound):
        app.send_message(by(client_of(client_id)), other, {"text": "Into theirs"})
    with pytest.raises(NotFound):  # another client's message under one's own path
        app.mark_message_read(by(client_of(client_id)), client_id, theirs["message_id"])
    with pytest.raises(NotFound):
        app.flag_message(by(CLINICIAN), client_id, theirs["message_id"])
    assert own_events(app, "MessageRead") == own_events(app, "MessageFlagged") == []
    with pytest.raises(NotFound):  # another organisation's thread does not exist
        app.thread(OTHER_ORG, client_id, PAGE)


def test_empty_text_is_refused_naming_it_and_nothing_is_stored(app):
    client_id = registered(app)
    before = len(own_events(app))
    with pytest.raises(InvalidInput) as refused:
        app.send_message(by(client_of(client_id)), client_id, {"text": "   "})
    assert "text" in refused.value.fields
    with pytest.raises(InvalidInput):
        app.send_message(by(client_of(client_id)), client_id, {"text": "x" * 5001})
    assert len(own_events(app)) == before


def test_outside_office_hours_the_clinic_auto_replies_with_the_crisis_line(app):
    client_id = registered(app)
    client = client_of(client_id)
    # No settings: no auto-reply.
    app.send_message(by(client), client_id, {"text": "First"})
    assert len(own_events(app, "MessageSent")) == 1
    # Office hours around the clock: never outside them.
    app.set_messaging_settings(by(ADMIN), CLINIC, {
        "time_zone": "Europe/London", "office_hours": ALWAYS_OPEN, "crisis_line": CRISIS})
    app.send_message(by(client), client_id, {"text": "Second"})
    assert len(own_events(app, "MessageSent")) == 2
    # No office hours at all: always outside them.
    settings = app.set_messaging_settings(by(ADMIN), CLINIC, {
        "time_zone": "Europe/London", "office_hours": [], "crisis_line": CRISIS})
    assert settings["auto_reply"].startswith(CRISIS)
    app.send_message(by(client), client_id, {"text": "Third"})
    thread = app.thread(client, client_id, PAGE)["messages"]
    assert [m["sender_role"] for m in thread] == ["client", "client", "client", "clinic"]
    assert thread[-1]["auto_reply"] and thread[-1]["text"].startswith(CRISIS)
    # A clinician's message gets none.
    app.send_message(by(CLINICIAN), client_id, {"text": "Noted"})
    assert len(app.thread(client, client_id, PAGE)["messages"]) == 5
    with pytest.raises(InvalidInput) as refused:
        app.set_messaging_settings(by(ADMIN), CLINIC, {
            "time_zone": "Mars/Olympus", "crisis_line": " ",
            "office_hours": [{"weekday": 1, "start": "17:00", "end": "09:00"}]})
    assert set(refused.value.fields) == {"time_zone", "crisis_line", "office_hours.0"}


def test_a_flagged_message_is_on_the_chart_s_timeline(app):
    client_id = registered(app)
    sent = app.send_message(by(client_of(client_id)), client_id,
                            {"text": "I stopped taking my medication"})
    app.send_message(by(client_of(client_id)), client_id, {"text": "Thanks"})
    assert [i for i in app.chart(CLINICIAN, client_id)["timeline"]
            if i["kind"] == "message_flagged"] == []
    app.flag_message(by(CLINICIAN), client_id, sent["message_id"])
    with pytest.raises(Conflict):
        app.flag_message(by(CLINICIAN), client_id, sent["message_id"])
    chart = app.chart(CLINICIAN, client_id)
    (item,) = [i for i in chart["timeline"] if i["kind"] == "message_flagged"]
    assert item["id"] == sent["message_id"] and item["by"] == CLINICIAN.user_id
    assert item["text"] == "I stopped taking my medication"
    assert [m["message_id"] for m in chart["flagged_messages"]] == [sent["message_id"]]
