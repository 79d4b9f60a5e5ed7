"""Scheduling's application on its own: commands, queries, refusals and reactions,
driven straight on SchedulingApplication over a SQLite file, with no broker and no
HTTP. Other services' events arrive as envelopes through `consume`, as the
consumer hands them over."""
import uuid
from datetime import date, timedelta

import pytest
from icalendar import Calendar

from services.scheduling.application import SchedulingApplication
from services.scheduling.domain.appointments import DoubleBooking
from shared.auth import Principal
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.timeutil import iso, utc_now
from tests.support import make_event

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Principal("admin-1", "admin", ORG, (CLINIC,))
DR_1 = Principal("dr-1", "clinician", ORG, (CLINIC,))
FRONT_DESK = Principal("desk-1", "front_desk", ORG, (CLINIC,))


def caller(principal=ADMIN):
    return Caller(principal, str(uuid.uuid4()))


@pytest.fixture
def app(tmp_path):
    application = SchedulingApplication(f"sqlite:///{tmp_path}/scheduling.db")
    yield application
    application.store.engine.dispose()


def appended(app, name=None):
    return [e for _, e in app.store.read_all(origin="scheduling")
            if name in (None, e.name)]


def register(app, client_id=None, primary_clinician_id="dr-1"):
    """intake's ClientRegistered, consumed."""
    client_id = client_id or str(uuid.uuid4())
    assert app.consume(make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org", "phone": None},
        "primary_clinician_id": primary_clinician_id, "registered_at": iso(utc_now())},
        subject=f"client-{client_id}").to_dict()) == "applied"
    return client_id


def book(app, client_id, start, who=ADMIN, **overrides):
    command = {"organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
               "clinician_id": "dr-1", "start": start, "duration_minutes": 50,
               "modality": "video", **overrides}
    return app.book_appointment(caller(who), command)


def hour_ago():
    return utc_now().replace(microsecond=0) - timedelta(hours=1)


# -- clinics, rooms, clinicians ----------------------------------------------------
def test_a_clinic_is_configured_with_rooms_and_only_by_an_admin(app):
    clinic = app.configure_clinic(caller(), CLINIC, {
        "name": "North", "time_zone": "Europe/London", "late_cancel_window_hours": 48})
    assert (clinic["configured"], clinic["time_zone"]) == (True, "Europe/London")
    assert app.add_room(caller(), CLINIC, {"room_id": "r1", "name": "Room 1"})["room_id"] == "r1"
    with pytest.raises(InvalidInput) as refused:
        app.add_room(caller(), CLINIC, {"room_id": "r1", "name": "Again"})
    assert "room_id" in refused.value.fields
    assert [r["room_id"] for r in app.clinic(ADMIN, CLINIC)["rooms"]] == ["r1"]
    with pytest.raises(Forbidden):
        app.configure_clinic(caller(FRONT_DESK), CLINIC, {"name": "Mine"})
    with pytest.raises(Forbidden):
        app.add_room(caller(), "clinic-2", {"room_id": "r2", "name": "Elsewhere"})
    # Settings are set whole: a second PUT wins, and the rooms stay.
    assert app.configure_clinic(caller(), CLINIC, {"name": "North II"})["rooms"] \
        == [{"room_id": "r1", "name": "Room 1"}]


def test_a_clinician_profile_and_its_working_hours(app):
    profile = app.set_clinician_profile(caller(), "dr-1", {
        "name": "Dr One", "clinic_ids": [CLINIC], "working_hours": [
            {"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)]})
    assert profile["clinic_ids"] == [CLINIC]
    client_id = register(app)
    sunday = utc_now().replace(hour=10, minute=0, second=0, microsecond=0)
    sunday += timedelta(days=(6 - sunday.weekday()) % 7 or 7)
    with pytest.raises(Conflict) as refused:
        book(app, client_id, sunday)
    assert "working hours" in refused.value.message
    booked = book(app, client_id, sunday, override_working_hours=True)
    assert booked["outside_working_hours"] is True
    # An admin of another clinic may not take the profile over from this one.
    other = Principal("admin-2", "admin", ORG, ("clinic-2",))
    with pytest.raises(Forbidden):
        app.set_clinician_profile(caller(other), "dr-1", {
            "name": "Dr One", "clinic_ids": ["clinic-2"], "working_hours": []})
    with pytest.raises(NotFound):
        app.clinician(other, "dr-1")


# -- booking -----------------------------------------------------------------------
def test_book_read_back_and_the_refusals(app):
    client_id = register(app)
    start = utc_now().replace(microsecond=0) + timedelta(days=2)
    request = caller()
    appointment = app.book_appointment(request, {
        "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
        "clinician_id": "dr-1", "start": start, "duration_minutes": 50,
        "modality": "video"})
    assert appointment["status"] == "booked"
    assert app.appointment(ADMIN, appointment["appointment_id"]) == appointment
    (event,) = appended(app, "AppointmentBooked")
    assert event.correlationid == request.correlation_id
    assert (event.organisationid, event.clinicid, event.sequence) == (ORG, CLINIC, 1)

    with pytest.raises(DoubleBooking) as busy:
        book(app, client_id, start + timedelta(minutes=30), clinician_id="dr-2")
    assert busy.value.conflicting_appointment_id == appointment["appointment_id"]
    with pytest.raises(InvalidInput):
        book(app, str(uuid.uuid4()), start + timedelta(days=1))  # not a client here
    with pytest.raises(Forbidden):
        book(app, client_id, start, who=Principal("c", "client", ORG, (CLINIC,), client_id))
    assert len(appended(app)) == 1


def test_reschedule_cancel_and_what_a_cancelled_appointment_refuses(app):
    client_id = register(app)
    start = utc_now().replace(microsecond=0) + timedelta(days=3)
    appointment = book(app, client_id, start)
    moved = app.reschedule_appointment(caller(), appointment["appointment_id"],
                                       {"start": start + timedelta(hours=2)})
    assert moved["start"] == iso(start + timedelta(hours=2))
    cancelled = app.cancel_appointment(caller(), appointment["appointment_id"],
                                       {"cancelled_by": "client", "reason": "ill"})
    assert (cancelled["status"], cancelled["late"]) == ("cancelled", False)
    for refused in (lambda: app.cancel_appointment(caller(), appointment["appointment_id"],
                                                   {"cancelled_by": "clinic"}),
                    lambda: app.check_in(caller(), appointment["appointment_id"]),
                    lambda: app.reschedule_appointment(caller(), appointment["appointment_id"],
                                                       {"start": start})):
        with pytest.raises(Conflict):
            refused()
    assert [e.sequence for e in appended(app)] == [1, 2, 3]
    with pytest.raises(NotFound):
        app.cancel_appointment(caller(), str(uuid.uuid4()), {"cancelled_by": "clinic"})
    # A client cancels only as the client.
    other = book(app, client_id, start + timedelta(days=7))
    with pytest.raises(Forbidden):
        app.cancel_appointment(caller(Principal("c", "client", ORG, (CLINIC,), client_id)),
                               other["appointment_id"], {"cancelled_by": "clinic"})


def test_a_series_is_booked_whole_and_ended_from_a_date(app):
    client_id = register(app)
    first = utc_now().replace(microsecond=0) + timedelta(days=1)
    series = app.book_series(caller(), {
        "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
        "clinician_id": "dr-1", "start": first, "duration_minutes": 50, "modality": "video",
        "frequency": "weekly", "count": 4})
    assert len(series["appointments"]) == 4
    ended = app.end_series(caller(), series["series_id"],
                           {"from_": first + timedelta(days=10), "reason": "moved away"})
    assert [a["status"] for a in ended["appointments"]] == \
        ["booked", "booked", "cancelled", "cancelled"]
    with pytest.raises(Conflict):
        app.end_series(caller(), series["series_id"], {})
    # An occurrence in the way refuses the whole series, naming it.
    with pytest.raises(DoubleBooking) as busy:
        app.book_series(caller(), {
            "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
            "clinician_id": "dr-2", "start": first + timedelta(weeks=1),
            "duration_minutes": 50, "modality": "video", "frequency": "weekly",
            "count": 2})
    assert busy.value.message.startswith("occurrence 1")
    assert len(appended(app, "AppointmentSeriesBooked")) == 1


# -- attendance and the reassessment cadence -----------------------------------------
def test_check_in_hold_and_a_reassessment_due_after_the_policy_s_sessions(app):
    app.set_reassessment_policy(caller(), CLINIC, {"every_sessions": 2})
    client_id = register(app)
    for days_ago in (8, 1):
        appointment = book(app, client_id, hour_ago() - timedelta(days=days_ago))
        app.check_in(caller(FRONT_DESK), appointment["appointment_id"])
        with pytest.raises(Conflict):
            app.check_in(caller(FRONT_DESK), appointment["appointment_id"])
        held = app.hold_session(caller(DR_1), appointment["appointment_id"], {"minutes": 50})
    assert held["session_number"] == 2
    (due,) = appended(app, "ReassessmentDue")
    assert (due.data["client_id"], due.data["due_by"]) == (client_id, "sessions")
    (session,) = [e for e in appended(app, "SessionHeld")
                  if e.data["appointment_id"] == appointment["appointment_id"]]
    assert due.causationid == session.id  # decided in the session's unit of work
    listed = app.reassessments(ADMIN, CLINIC, {"overdue_after_days": 14, "limit": 10,
                                               "offset": 0})
    assert [c["client_id"] for c in listed["due"]] == [client_id]

    # intake's assessment opens a new cycle: the due one is closed.
    assert app.consume(make_event("intake", "ClientAssessed", {
        "client_id": client_id, "assessment_id": str(uuid.uuid4()), "instrument": "PHQ-9",
        "kind": "reassessment", "answers": [0] * 9, "total": 0, "severity": "minimal",
        "assessed_at": iso(utc_now())}, subject=f"client-{client_id}",
        sequence=2).to_dict()) == "applied"
    assert app.reassessments(ADMIN, CLINIC, {"overdue_after_days": 14, "limit": 10,
                                             "offset": 0})["due"] == []
    assert len(appended(app, "ReassessmentDue")) == 1


def test_a_future_session_is_not_held_and_a_no_show_needs_the_start(app):
    client_id = register(app)
    future = book(app, client_id, utc_now() + timedelta(days=1))
    with pytest.raises(Conflict):
        app.hold_session(caller(), future["appointment_id"], {"minutes": 50})
    with pytest.raises(Conflict):
        app.record_no_show(caller(), future["appointment_id"])
    past = book(app, client_id, hour_ago() - timedelta(days=1))
    assert app.record_no_show(caller(), past["appointment_id"])["status"] == "no_show"
    with pytest.raises(Forbidden):
        app.record_no_show(caller(Principal("b", "billing", ORG, (CLINIC,))),
                           past["appointment_id"])


def test_the_timer_flags_a_cycle_due_by_days_once(app):
    client_id = register(app)
    app.set_client_reassessment_policy(caller(), client_id, {"every_days": 7})
    assessed_at = utc_now() - timedelta(days=3)
    app.consume(make_event("intake", "ClientAssessed", {
        "client_id": client_id, "assessment_id": str(uuid.uuid4()), "instrument": "PHQ-9",
        "kind": "initial", "answers": [0] * 9, "total": 0, "severity": "minimal",
        "assessed_at": iso(assessed_at)}, subject=f"client-{client_id}",
        sequence=2).to_dict())
    assert app.check_reassessments_due() == []
    (due,) = app.check_reassessments_due(utc_now() + timedelta(days=5))
    assert (due.data["due_by"], due.data["due_at"]) == \
        ("days", iso(assessed_at + timedelta(days=7)))
    assert app.check_reassessments_due(utc_now() + timedelta(days=6)) == []
    assert app.client_reassessment_policy(ADMIN, client_id)["source"] == "client"


def test_a_discharge_cancels_what_is_ahead_once_however_often_delivered(app):
    client_id = register(app)
    ahead = [book(app, client_id, utc_now().replace(microsecond=0) + timedelta(days=d))
             for d in (1, 8)]
    past = book(app, client_id, hour_ago() - timedelta(days=2))
    discharged = make_event("intake", "ClientDischarged", {
        "client_id": client_id, "episode_id": str(uuid.uuid4()), "reason": "planned_ending",
        "discharged_at": iso(utc_now())}, subject=f"client-{client_id}", sequence=2)
    assert app.consume(discharged.to_dict()) == "applied"
    assert app.consume(discharged.to_dict()) == "duplicate"
    cancelled = appended(app, "AppointmentCancelled")
    assert {c.data["appointment_id"] for c in cancelled} == \
        {a["appointment_id"] for a in ahead}
    assert {(c.causationid, c.correlationid, c.data["cancelled_by"]) for c in cancelled} == \
        {(discharged.id, discharged.correlationid, "clinic")}
    assert app.appointment(ADMIN, past["appointment_id"])["status"] == "booked"


# -- calendars, feeds and attendance figures ------------------------------------------------
def test_a_clinician_s_week_and_the_attendance_figures(app):
    client_id = register(app)
    start = hour_ago() - timedelta(days=1)
    held = book(app, client_id, start)
    app.hold_session(caller(), held["appointment_id"], {"minutes": 50})
    gone = book(app, client_id, start - timedelta(hours=3))
    app.cancel_appointment(caller(), gone["appointment_id"], {"cancelled_by": "client"})
    day = start.date()
    week = app.clinician_calendar(ADMIN, "dr-1", day, 1, CLINIC)
    assert [a["appointment_id"] for a in week["days"][0]["appointments"]] == \
        [held["appointment_id"]]
    figures = app.attendance(ADMIN, CLINIC, day - timedelta(days=1), day + timedelta(days=1))
    assert (figures["clinic"]["held"], figures["clinic"]["late_cancelled"]) == (1, 1)
    with pytest.raises(InvalidInput):
        app.attendance(ADMIN, CLINIC, day, day - timedelta(days=1))
    with pytest.raises(Forbidden):
        app.clinician_calendar(Principal("b", "billing", ORG, (CLINIC,)), "dr-1",
                               date.today(), 7, CLINIC)


def test_a_calendar_feed_opens_the_ics_until_revoked(app):
    app.set_clinician_profile(caller(), "dr-1", {"name": "Dr One", "clinic_ids": [CLINIC],
                                                "working_hours": []})
    client_id = register(app)
    appointment = book(app, client_id, utc_now() + timedelta(days=1),
                       override_working_hours=True)
    feed = app.issue_calendar_feed(caller(DR_1), "dr-1")
    (event,) = Calendar.from_ical(app.calendar_ics(feed["feed_token"], "dr-1")).walk("VEVENT")
    assert str(event["uid"]) == f"{appointment['appointment_id']}@praxis"
    with pytest.raises(Unauthorized):
        app.calendar_ics(feed["feed_token"], "dr-2")
    with pytest.raises(Forbidden):
        app.issue_calendar_feed(caller(Principal("dr-2", "clinician", ORG, (CLINIC,))), "dr-1")
    revoked = app.revoke_calendar_feed(caller(DR_1), "dr-1", feed["feed_id"])
    assert revoked["status"] == "revoked"
    with pytest.raises(Conflict):
        app.revoke_calendar_feed(caller(DR_1), "dr-1", feed["feed_id"])
    with pytest.raises(Unauthorized):
        app.calendar_ics(feed["feed_token"], "dr-1")
    assert [f["status"] for f in app.calendar_feeds(DR_1, "dr-1")["feeds"]] == ["revoked"]
