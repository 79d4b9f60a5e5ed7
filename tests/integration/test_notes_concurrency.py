"""Two requests at once on one note, goal or homework (issue 13): the command loads its
aggregate with uow.get and saves at the version it loaded, so of two conflicting
commands exactly one appends and the other gets a 409, on both engines.

Two threads run each pair against one application. However they interleave, the loser
gets a 409: a domain Conflict when it loaded after the winner committed, a
ConcurrencyError when both loaded first. On PostgreSQL the second test makes both load
before either saves, so only the version taken from what was loaded can refuse the
loser. SQLite serialises whole units of work with a file lock, so two loads cannot
overlap there (a barrier would wait forever) and only the first form applies.
"""
import uuid

import pytest

from services.notes.application import NotesApplication
from services.notes.domain.progress_notes import ProgressNote
from services.notes.domain.treatment_plan import TreatmentPlan
from shared.auth import ALL_CLINICS, Principal
from shared.caller import Caller
from shared.errors import ConcurrencyError, Conflict
from shared.paging import PageQuery
from tests.concurrency import at_once, loads_meet
from tests.support import make_event

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
CLINICIAN = Principal("clinician-7", "clinician", ORG, (CLINIC,))
SUPERVISOR = Principal("supervisor-1", "clinician", ORG, (CLINIC,))
ADMIN = Principal("admin-1", "admin", ORG, (ALL_CLINICS,))
SOAP = {"subjective": "Slept badly", "objective": "Tired, on time",
        "assessment": "Low mood persists", "plan": "Sleep diary"}
DRAFT = {"format": "SOAP", "sections": SOAP}


def by(principal):
    return Caller(principal, f"correlation-{uuid.uuid4()}")


@pytest.fixture
def app(database_url):
    application = NotesApplication(database_url)
    yield application
    application.store.engine.dispose()


def client(app):
    client_id = str(uuid.uuid4())
    app.consume(make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org"}, "primary_clinician_id": CLINICIAN.user_id,
        "registered_at": "2026-01-05T09:00:00Z"}, f"client-{client_id}").to_dict())
    return client_id


def held_note(app, client_id):
    appointment_id = str(uuid.uuid4())
    app.consume(make_event("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id,
        "clinician_id": CLINICIAN.user_id, "start": "2026-01-12T15:00:00Z", "minutes": 50,
        "modality": "video", "session_type": "individual", "place_of_service": "office",
        "audio_only": False, "session_number": 1}, f"appointment-{appointment_id}",
        sequence=2).to_dict())
    (note,) = app.client_notes(CLINICIAN, client_id, PageQuery().load({}))["notes"]
    return note


# -- the conflicting pairs: (aggregate type, stream key, [two commands]) -------------------
def sign_twice(app):
    note = held_note(app, client(app))
    app.save_draft(by(CLINICIAN), note["note_id"], DRAFT)
    sign = lambda: app.sign_note(by(CLINICIAN), note["note_id"], {})  # noqa: E731
    return ProgressNote, note["appointment_id"], [sign, sign]


def cosign_twice(app):
    app.set_supervision(by(ADMIN), CLINICIAN.user_id, {
        "pre_licensed": True, "supervisor_id": SUPERVISOR.user_id, "clinic_id": CLINIC})
    note = held_note(app, client(app))
    app.sign_note(by(CLINICIAN), note["note_id"], DRAFT)
    cosign = lambda: app.cosign_note(by(SUPERVISOR), note["note_id"])  # noqa: E731
    return ProgressNote, note["appointment_id"], [cosign, cosign]


def goal_status_twice(app):
    client_id = client(app)
    goal = app.set_goal(by(CLINICIAN), client_id, {
        "description": "Sleep through the night", "target_date": "2026-09-01",
        "instrument": None, "target_score": None})

    def complete():  # both seen active: each would complete it
        return app.change_goal_status(by(CLINICIAN), client_id, goal["goal_id"],
                                      {"status": "completed"})
    return TreatmentPlan, client_id, [complete, complete]


def draft_while_signing(app):
    note = held_note(app, client(app))
    app.save_draft(by(CLINICIAN), note["note_id"], DRAFT)
    changed = {"format": "SOAP", "sections": {**SOAP, "plan": "Sleep diary, no screens"}}
    return ProgressNote, note["appointment_id"], [
        lambda: app.sign_note(by(CLINICIAN), note["note_id"], {}),
        lambda: app.save_draft(by(CLINICIAN), note["note_id"], changed)]


def stream_length(app, aggregate_type, key):
    return len(app.store.read_stream(aggregate_type.stream_of(key)))


def race(commands):
    """The two commands at once -> "saved", or the 409 each got."""
    outcomes = at_once(*commands)
    for outcome in outcomes:
        if isinstance(outcome, Exception) and not isinstance(outcome, Conflict):
            raise outcome  # ConcurrencyError is a Conflict too: both are 409
    return [o if isinstance(o, Conflict) else "saved" for o in outcomes]


# Conflicting whatever the order: the one that goes second finds the first's change.
@pytest.mark.parametrize("pair", [sign_twice, cosign_twice, goal_status_twice])
def test_of_two_conflicting_commands_at_once_one_saves_and_one_gets_409(app, pair):
    aggregate_type, key, commands = pair(app)
    before = stream_length(app, aggregate_type, key)
    outcomes = race(commands)
    assert outcomes.count("saved") == 1, outcomes
    (refused,) = [o for o in outcomes if o != "saved"]
    assert isinstance(refused, Conflict) and refused.status == 409
    assert stream_length(app, aggregate_type, key) == before + 1


@pytest.fixture
def both_load_first(monkeypatch):
    """Make the two commands load the contested aggregate before either saves: the
    (type, key) pairs appended to the list it returns are the contested ones."""
    contested = []
    loads_meet(monkeypatch, lambda aggregate_type, key: (aggregate_type, key) in contested)
    return contested


@pytest.mark.parametrize("pair", [sign_twice, cosign_twice, goal_status_twice,
                                  draft_while_signing])
def test_postgresql_a_command_saves_at_the_version_it_loaded(postgres_url, both_load_first,
                                                             pair):
    application = NotesApplication(postgres_url)
    try:
        aggregate_type, key, commands = pair(application)
        before = stream_length(application, aggregate_type, key)
        both_load_first.append((aggregate_type, (key,)))
        outcomes = race(commands)
        assert outcomes.count("saved") == 1, outcomes
        (refused,) = [o for o in outcomes if o != "saved"]
        assert type(refused) is ConcurrencyError  # not the domain's: both saw the old state
        assert stream_length(application, aggregate_type, key) == before + 1
    finally:
        application.store.engine.dispose()
