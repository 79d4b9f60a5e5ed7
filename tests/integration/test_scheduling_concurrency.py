"""Two commands changing one appointment at once (issue 13): exactly one wins, the
other is refused with a 409, and exactly one event is appended.

On both engines the two run in two threads against one application: whichever
goes second is refused by the domain (Conflict: already cancelled, checked in,
held) or by the store (ConcurrencyError: the stream moved on since it was loaded).
On PostgreSQL the overlap is also forced: both commands load the appointment before
either saves, so the loser can only be caught by the version it loaded, which
proves `uow.save` expects that one. (On SQLite the store serialises whole units of
work with the file lock, so the second could never load before the first saves.)
"""
import uuid
from datetime import timedelta

import pytest

from services.scheduling.application import SchedulingApplication
from services.scheduling.domain.appointments import Appointment
from shared.auth import Principal
from shared.caller import Caller
from shared.errors import ConcurrencyError, Conflict
from shared.timeutil import iso, utc_now
from tests.concurrency import at_once, loads_meet
from tests.support import make_event

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Principal("admin-1", "admin", ORG, (CLINIC,))


def caller():
    return Caller(ADMIN, str(uuid.uuid4()))


def started_appointment(app):
    """An appointment of a registered client that began an hour ago (so it may be
    held or marked a no-show)."""
    client_id = str(uuid.uuid4())
    app.consume(make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org", "phone": None},
        "primary_clinician_id": "dr-1", "registered_at": iso(utc_now())},
        subject=f"client-{client_id}").to_dict())
    return app.book_appointment(caller(), {
        "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
        "clinician_id": "dr-1", "start": utc_now().replace(microsecond=0) - timedelta(hours=1),
        "duration_minutes": 50, "modality": "video"})["appointment_id"]


def appointment_events(app, appointment_id):
    return [e.name for e in app.store.read_stream(Appointment.stream_of(appointment_id))]


CANCEL = ("cancel", lambda app, a: app.cancel_appointment(caller(), a,
                                                          {"cancelled_by": "clinic"}))
CHECK_IN = ("check_in", lambda app, a: app.check_in(caller(), a))
HOLD = ("hold", lambda app, a: app.hold_session(caller(), a, {"minutes": 50}))
NO_SHOW = ("no_show", lambda app, a: app.record_no_show(caller(), a))
RESCHEDULE = ("reschedule", lambda app, a: app.reschedule_appointment(
    caller(), a, {"start": utc_now().replace(microsecond=0) - timedelta(minutes=30)}))
EVENT = {"cancel": "AppointmentCancelled", "check_in": "ClientCheckedIn",
         "hold": "SessionHeld", "no_show": "AppointmentNoShow",
         "reschedule": "AppointmentRescheduled"}


@pytest.fixture
def app(database_url):
    application = SchedulingApplication(database_url)
    yield application
    application.store.engine.dispose()


@pytest.mark.parametrize("first, second", [(CANCEL, CANCEL), (HOLD, HOLD),
                                           (CHECK_IN, CHECK_IN), (CHECK_IN, NO_SHOW)],
                         ids=["cancel-twice", "held-twice", "check-in-twice",
                              "check-in-vs-no-show"])
def test_of_two_conflicting_commands_at_once_exactly_one_wins(app, first, second):
    appointment_id = started_appointment(app)
    outcomes = at_once(lambda: first[1](app, appointment_id),
                       lambda: second[1](app, appointment_id))
    won = [i for i, o in enumerate(outcomes) if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1, outcomes
    (refused,) = lost
    assert isinstance(refused, Conflict) and refused.status == 409, repr(refused)
    winner = (first, second)[won[0]][0]
    assert appointment_events(app, appointment_id) == ["AppointmentBooked", EVENT[winner]]


@pytest.fixture
def pg_app(postgres_url):
    application = SchedulingApplication(postgres_url)
    yield application
    application.store.engine.dispose()


# Neither takes the store lock before loading the appointment (a reschedule does, so
# it saves first and the cancel is the loser).
@pytest.mark.parametrize("first, second", [(CANCEL, CANCEL), (CHECK_IN, CHECK_IN),
                                           (RESCHEDULE, CANCEL), (CHECK_IN, NO_SHOW)],
                         ids=["cancel-twice", "check-in-twice", "reschedule-vs-cancel",
                              "check-in-vs-no-show"])
def test_when_both_load_before_either_saves_the_loser_gets_a_concurrency_error(
        pg_app, monkeypatch, first, second):
    appointment_id = started_appointment(pg_app)
    # both load the appointment before either saves: they decide on one version
    loads_meet(monkeypatch, lambda aggregate_type, key: aggregate_type is Appointment)
    outcomes = at_once(lambda: first[1](pg_app, appointment_id),
                       lambda: second[1](pg_app, appointment_id))
    won = [i for i, o in enumerate(outcomes) if not isinstance(o, Exception)]
    assert len(won) == 1, outcomes
    (refused,) = [o for o in outcomes if isinstance(o, Exception)]
    assert isinstance(refused, ConcurrencyError), repr(refused)
    winner = (first, second)[won[0]][0]
    if first is RESCHEDULE:
        assert winner == "reschedule"
    assert appointment_events(pg_app, appointment_id) == ["AppointmentBooked", EVENT[winner]]
