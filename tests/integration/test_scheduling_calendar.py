"""Scheduling's calendar on SQLite and PostgreSQL with a real broker: clinics,
working hours, rooms, double booking (also under concurrent requests), series
across a daylight-saving change, cancellations, attendance, discharge and the
iCalendar feed."""
import threading
import uuid
from datetime import timedelta

import pytest
from icalendar import Calendar

from services.scheduling.service import Service as Scheduling
from shared.projection import rebuild
from shared.timeutil import iso, utc_now
from tests.integration.test_scheduling_service import redeliver, register, stored
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

ADMIN = token(role="admin")


@pytest.fixture
def scheduling(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def book(running, client_id, start, **overrides):
    body = {"organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
            "clinician_id": "dr-1", "start": start, "duration_minutes": 50,
            "modality": "video", **overrides}
    return running.api.post("/appointments", body)


def booked(running, client_id, start, **overrides):
    response = book(running, client_id, start, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


def configure_london(running, **overrides):
    body = {"name": "Leeds", "time_zone": "Europe/London", "late_cancel_window_hours": 24,
            "video_link_template": "https://meet.example.org/praxis-{appointment_id}",
            **overrides}
    response = running.api.put("/clinics/clinic-1", body, bearer=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


# -- clinics, rooms, working hours -----------------------------------------------------
def test_clinic_rooms_and_working_hours_shape_a_booking(scheduling):
    api = scheduling.api
    assert api.get("/clinics/clinic-1").json()["time_zone"] == "UTC"  # never configured
    assert api.put("/clinics/clinic-1", {"name": "Leeds"}).status_code == 403  # clinician
    response = api.put("/clinics/clinic-1", {"name": "Leeds", "time_zone": "Mars/Base"},
                       bearer=ADMIN)
    assert response.status_code == 422 and "time_zone" in response.json()["fields"]
    clinic = configure_london(scheduling)
    assert clinic["time_zone"] == "Europe/London" and clinic["configured"] is True
    response = api.post("/clinics/clinic-1/rooms", {"room_id": "blue", "name": "Blue room"},
                        bearer=ADMIN)
    assert response.status_code == 201, response.text
    assert api.post("/clinics/clinic-1/rooms", {"room_id": "blue", "name": "Again"},
                    bearer=ADMIN).status_code == 422
    assert [r["room_id"] for r in api.get("/clinics/clinic-1").json()["rooms"]] == ["blue"]

    response = api.put("/clinicians/dr-1", {
        "name": "Dr One", "clinic_ids": ["clinic-1"],
        "working_hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}]}, bearer=ADMIN)
    assert response.status_code == 200, response.text
    assert api.put("/clinicians/dr-1", {"name": "Dr One", "clinic_ids": ["clinic-2"]},
                   bearer=ADMIN).status_code == 403
    assert api.get("/clinicians/dr-1").json()["working_hours"][0]["start"] == "09:00"

    client_id = register(scheduling)
    # Monday 1 July 2024, 09:00 in London is 08:00 UTC (summer time).
    video = booked(scheduling, client_id, "2024-07-01T08:00:00Z")
    assert video["local_start"] == "2024-07-01T09:00:00+01:00"
    assert video["video_link"] == f"https://meet.example.org/praxis-{video['appointment_id']}"
    assert video["session_type"] == "individual" and video["outside_working_hours"] is False

    # 07:30 UTC is 08:30 local: before hours; refused unless overridden.
    early = book(scheduling, client_id, "2024-07-01T07:00:00Z", duration_minutes=30)
    assert early.status_code == 409 and "start" in early.json()["fields"]
    assert "override_working_hours" in early.json()["message"]
    early = book(scheduling, client_id, "2024-07-01T07:00:00Z", duration_minutes=30,
                 override_working_hours=True)
    assert early.status_code == 201 and early.json()["outside_working_hours"] is True
    (event,) = [e for e in stored(scheduling, "AppointmentBooked")
                if e.data["appointment_id"] == early.json()["appointment_id"]]
    assert event.data["outside_working_hours"] is True
    # Not a clinic the clinician works at.
    other = book(scheduling, register(scheduling, clinic="clinic-2"), "2024-07-01T10:00:00Z",
                 clinic_id="clinic-2")
    assert other.status_code == 403  # the token's clinics: clinic-1 only
    everywhere = token(clinics=["*"])
    other = scheduling.api.post("/appointments", {
        "organisation_id": "org-1", "clinic_id": "clinic-2",
        "client_id": register(scheduling, clinic="clinic-2"), "clinician_id": "dr-1",
        "start": "2024-07-01T10:00:00Z", "duration_minutes": 50, "modality": "phone"},
        bearer=everywhere)
    assert other.status_code == 422 and "clinician_id" in other.json()["fields"]

    # In person in a room; the room cannot hold two sessions at once.
    in_room = booked(scheduling, client_id, "2024-07-01T12:00:00Z", modality="in_person",
                     room_id="blue", session_type="family")
    assert in_room["room_id"] == "blue" and in_room["video_link"] is None
    assert book(scheduling, client_id, "2024-07-01T14:00:00Z", modality="in_person",
                room_id="green").status_code == 422
    assert book(scheduling, client_id, "2024-07-01T14:00:00Z", modality="video",
                room_id="blue").status_code == 422
    someone_else = register(scheduling)
    clash = book(scheduling, someone_else, "2024-07-01T12:30:00Z", modality="in_person",
                 room_id="blue", clinician_id="dr-2")
    assert clash.status_code == 409, clash.text
    assert clash.json()["conflicting_appointment_id"] == in_room["appointment_id"]
    assert "room_id" in clash.json()["fields"]


def test_nobody_is_in_two_places_at_once(scheduling):
    ada, bob = register(scheduling), register(scheduling)
    first = booked(scheduling, ada, "2024-07-01T09:00:00Z")
    for who, client_id, overrides in (("clinician_id", bob, {}),
                                      ("client_id", ada, {"clinician_id": "dr-2"})):
        clash = book(scheduling, client_id, "2024-07-01T09:49:00Z", **overrides)
        assert clash.status_code == 409, clash.text
        body = clash.json()
        assert body["error"] == "double_booking" and who in body["fields"]
        assert body["conflicting_appointment_id"] == first["appointment_id"]
        assert first["appointment_id"] in body["message"]
    # Back to back is fine; a cancelled appointment frees its slot.
    booked(scheduling, bob, "2024-07-01T09:50:00Z")
    response = scheduling.api.post(f"/appointments/{first['appointment_id']}/cancel",
                                   {"cancelled_by": "clinician"})
    assert response.status_code == 200, response.text
    booked(scheduling, bob, "2024-07-01T09:00:00Z", duration_minutes=50)
    # Moving into a taken slot is refused the same way.
    later = booked(scheduling, ada, "2024-07-02T09:00:00Z")
    moved = scheduling.api.post(f"/appointments/{later['appointment_id']}/reschedule",
                                {"start": "2024-07-01T09:30:00Z"})
    assert moved.status_code == 409 and moved.json()["conflicting_appointment_id"]
    assert len(stored(scheduling, "AppointmentRescheduled")) == 0


def test_held_checked_in_and_no_show_appointments_still_occupy_their_slot(scheduling):
    api = scheduling.api
    api.post("/clinics/clinic-1/rooms", {"room_id": "blue", "name": "Blue"}, bearer=ADMIN)
    api.put("/clinicians/dr-1", {"name": "Dr One", "clinic_ids": ["clinic-1"],
                                 "working_hours": []}, bearer=ADMIN)
    ada, bob, cy = register(scheduling), register(scheduling), register(scheduling)
    day = (utc_now() - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    settle = {"held": lambda a: api.post(f"/appointments/{a}/held", {"minutes": 50}),
              "checked_in": lambda a: api.post(f"/appointments/{a}/check-in"),
              "no_show": lambda a: api.post(f"/appointments/{a}/no-show")}
    for hour, (status, act) in enumerate(settle.items()):
        start = day + timedelta(hours=hour)
        first = booked(scheduling, ada, iso(start), modality="in_person", room_id="blue",
                       override_working_hours=True)
        assert act(first["appointment_id"]).status_code in (200, 201)
        assert api.get(f"/appointments/{first['appointment_id']}").json()["status"] == status
        # The clinician, the client and the room are each still taken at that time.
        for client_id, overrides, field in (
                (bob, {}, "clinician_id"),
                (ada, {"clinician_id": "dr-2"}, "client_id"),
                (bob, {"clinician_id": "dr-2", "modality": "in_person", "room_id": "blue"},
                 "room_id")):
            clash = book(scheduling, client_id, iso(start), override_working_hours=True,
                         **overrides)
            assert clash.status_code == 409, (status, field, clash.text)
            assert clash.json()["conflicting_appointment_id"] == first["appointment_id"]
            assert field in clash.json()["fields"]
    # Only a cancellation frees the slot.
    start = day + timedelta(hours=5)
    first = booked(scheduling, ada, iso(start), override_working_hours=True)
    api.post(f"/appointments/{first['appointment_id']}/cancel", {"cancelled_by": "clinic"})
    booked(scheduling, cy, iso(start), override_working_hours=True)

    # The clinician's feed shows one appointment per slot.
    feed_token = api.post("/clinicians/dr-1/calendar-feeds", bearer=ADMIN).json()["feed_token"]
    ics = Calendar.from_ical(api.get("/clinicians/dr-1/calendar.ics",
                                     params={"feed_token": feed_token}, bearer="").content)
    starts = [e.decoded("dtstart") for e in ics.walk("VEVENT")
              if str(e["status"]) != "CANCELLED"]
    assert len(starts) == len(set(starts)) == 4


def test_two_requests_for_one_slot_exactly_one_wins(scheduling):
    clients = [register(scheduling) for _ in range(2)]
    for round_ in range(4):
        start = f"2024-08-0{round_ + 1}T09:00:00Z"
        barrier = threading.Barrier(2)
        answers = []

        def attempt(client_id):
            barrier.wait()
            answers.append(book(scheduling, client_id, start))
        threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(a.status_code for a in answers) == [201, 409], \
            [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 201).json()
        loser = next(a for a in answers if a.status_code == 409).json()
        assert loser["conflicting_appointment_id"] == winner["appointment_id"]
    assert len(stored(scheduling, "AppointmentBooked")) == 4


# -- series and daylight saving ----------------------------------------------------------
def test_a_weekly_series_across_the_spring_change(scheduling):
    configure_london(scheduling)
    client_id = register(scheduling)
    response = scheduling.api.post("/series", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
        "clinician_id": "dr-1", "start": "2024-03-19T10:00:00Z", "duration_minutes": 50,
        "modality": "video", "frequency": "weekly", "count": 4})
    assert response.status_code == 201, response.text
    series = response.json()
    starts = [a["start"] for a in series["appointments"]]
    assert starts == ["2024-03-19T10:00:00Z", "2024-03-26T10:00:00Z",
                      "2024-04-02T09:00:00Z", "2024-04-09T09:00:00Z"]
    assert {a["local_start"][11:16] for a in series["appointments"]} == {"10:00"}
    assert {a["series_id"] for a in series["appointments"]} == {series["series_id"]}

    # The week of the change: Sunday has 23 hours; the day view shows local 10:00.
    week = scheduling.api.get("/clinicians/dr-1/week",
                              params={"date": "2024-03-27", "clinic_id": "clinic-1"}).json()
    assert [d["date"] for d in week["days"]][0] == "2024-03-25"
    assert week["days"][6]["hours"] == 23
    assert [a["local_start"] for d in week["days"] for a in d["appointments"]] == \
        ["2024-03-26T10:00:00+00:00"]
    day = scheduling.api.get("/clinicians/dr-1/day",
                             params={"date": "2024-04-02", "clinic_id": "clinic-1"}).json()
    assert [a["local_start"] for a in day["days"][0]["appointments"]] == \
        ["2024-04-02T10:00:00+01:00"]
    assert "client_name" not in day["days"][0]["appointments"][0]

    # Move one occurrence and cancel another: the others stay as they were.
    second, third, fourth = (a["appointment_id"] for a in series["appointments"][1:])
    moved = scheduling.api.post(f"/appointments/{second}/reschedule",
                                {"start": "2024-03-27T10:00:00Z"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["series_id"] == series["series_id"]
    assert scheduling.api.post(f"/appointments/{third}/cancel",
                               {"cancelled_by": "client"}).status_code == 200
    again = scheduling.api.get(f"/series/{series['series_id']}").json()
    assert [(a["start"], a["status"]) for a in again["appointments"]] == [
        ("2024-03-19T10:00:00Z", "booked"), ("2024-03-27T10:00:00Z", "booked"),
        ("2024-04-02T09:00:00Z", "cancelled"), ("2024-04-09T09:00:00Z", "booked")]

    # A booking on top of an occurrence names it.
    clash = book(scheduling, register(scheduling), "2024-04-09T09:30:00Z")
    assert clash.status_code == 409 and clash.json()["conflicting_appointment_id"] == fourth

    # End the series from 1 April: the fourth is cancelled by the clinic, the rest stay.
    ended = scheduling.api.post(f"/series/{series['series_id']}/end",
                                {"from": "2024-04-01T00:00:00Z", "reason": "moving away"})
    assert ended.status_code == 200, ended.text
    assert [a["status"] for a in ended.json()["appointments"]] == \
        ["booked", "booked", "cancelled", "cancelled"]
    assert ended.json()["ended_from"] == "2024-04-01T00:00:00Z"
    cancellation = [e for e in stored(scheduling, "AppointmentCancelled")
                    if e.data["appointment_id"] == fourth][0]
    assert cancellation.data["cancelled_by"] == "clinic"
    assert cancellation.data["reason"] == "moving away"
    assert scheduling.api.post(f"/series/{series['series_id']}/end", {}).status_code == 409
    (booked_event,) = stored(scheduling, "AppointmentSeriesBooked")
    assert booked_event.data["starts"] == starts
    assert len(stored(scheduling, "AppointmentSeriesEnded")) == 1


def test_a_series_with_a_conflicting_occurrence_books_nothing(scheduling):
    client_id = register(scheduling)
    taken = booked(scheduling, register(scheduling), "2024-05-21T10:00:00Z")
    response = scheduling.api.post("/series", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
        "clinician_id": "dr-1", "start": "2024-05-07T10:00:00Z", "duration_minutes": 50,
        "modality": "video", "frequency": "every_other_week", "until": "2024-06-30"})
    assert response.status_code == 409, response.text
    assert response.json()["conflicting_appointment_id"] == taken["appointment_id"]
    assert "occurrence 2" in response.json()["message"]
    for body, field in (({"count": 3, "until": "2024-06-30"}, "count"), ({}, "count"),
                        ({"count": 3, "frequency": "monthly"}, "frequency")):
        response = scheduling.api.post("/series", {
            "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
            "clinician_id": "dr-1", "start": "2024-05-07T10:00:00Z", "duration_minutes": 50,
            "modality": "video", "frequency": "weekly", **body})
        assert response.status_code == 422 and field in response.json()["fields"], body
    assert stored(scheduling, "AppointmentSeriesBooked") == []
    assert len(stored(scheduling, "AppointmentBooked")) == 1


# -- cancellations, no-shows, attendance -------------------------------------------------
def test_cancellations_no_shows_and_attendance(scheduling):
    configure_london(scheduling, late_cancel_window_hours=48)
    ada, bob = register(scheduling), register(scheduling)
    soon = (utc_now() + timedelta(hours=30)).replace(microsecond=0)
    far = (utc_now() + timedelta(days=5)).replace(microsecond=0)
    api = scheduling.api

    late = booked(scheduling, ada, iso(soon))
    response = api.post(f"/appointments/{late['appointment_id']}/cancel",
                        {"cancelled_by": "client", "reason": "work"})
    assert response.status_code == 200, response.text
    assert response.json()["late"] is True and response.json()["cancelled_by"] == "client"
    assert 29 * 60 <= response.json()["notice_minutes"] <= 30 * 60
    assert api.post(f"/appointments/{late['appointment_id']}/cancel",
                    {"cancelled_by": "client"}).status_code == 409
    assert api.post(f"/appointments/{late['appointment_id']}/held",
                    {"minutes": 50}).status_code == 409

    early = booked(scheduling, ada, iso(far))
    assert api.post(f"/appointments/{early['appointment_id']}/cancel",
                    {"cancelled_by": "client"}).json()["late"] is False
    by_clinician = booked(scheduling, bob, iso(soon), clinician_id="dr-2")
    assert api.post(f"/appointments/{by_clinician['appointment_id']}/cancel",
                    {"cancelled_by": "clinician"}).json()["late"] is False
    assert api.post(f"/appointments/{by_clinician['appointment_id']}/cancel",
                    {"cancelled_by": "someone"}).status_code in (409, 422)

    past = (utc_now() - timedelta(hours=3)).replace(microsecond=0)
    missed = booked(scheduling, bob, iso(past))
    future = booked(scheduling, bob, iso(far + timedelta(hours=2)))
    assert api.post(f"/appointments/{future['appointment_id']}/no-show").status_code == 409
    response = api.post(f"/appointments/{missed['appointment_id']}/no-show")
    assert response.status_code == 200 and response.json()["status"] == "no_show"
    came = booked(scheduling, ada, iso(past - timedelta(hours=2)))
    assert api.post(f"/appointments/{came['appointment_id']}/check-in").json()["status"] \
        == "checked_in"
    assert api.post(f"/appointments/{came['appointment_id']}/no-show").status_code == 409
    assert api.post(f"/appointments/{came['appointment_id']}/held",
                    {"minutes": 50}).status_code == 201

    upcoming = api.get(f"/clients/{bob}/appointments/upcoming").json()["appointments"]
    assert [a["appointment_id"] for a in upcoming] == [future["appointment_id"]]

    first, last = (utc_now() - timedelta(days=2)).date(), (utc_now() + timedelta(days=7)).date()
    report = api.get("/clinics/clinic-1/attendance",
                     params={"from": first.isoformat(), "to": last.isoformat()}).json()
    clinic = report["clinic"]
    assert (clinic["held"], clinic["cancelled"], clinic["late_cancelled"], clinic["no_show"],
            clinic["open"]) == (1, 2, 1, 1, 1)
    assert clinic["settled"] == 5 and clinic["rates"]["held"] == 0.2
    assert clinic["rates"]["late_cancelled"] == 0.2 and clinic["rates"]["cancelled"] == 0.4
    assert clinic["cancelled_by"] == {"client": 2, "clinician": 1, "clinic": 0}
    per = {c["clinician_id"]: c for c in report["clinicians"]}
    assert per["dr-2"]["cancelled"] == 1 and per["dr-2"]["settled"] == 1
    assert per["dr-1"]["held"] == 1 and per["dr-1"]["no_show"] == 1
    only = api.get("/clinics/clinic-1/attendance", params={
        "from": first.isoformat(), "to": last.isoformat(), "clinician_id": "dr-2"}).json()
    assert [c["clinician_id"] for c in only["clinicians"]] == ["dr-2"]
    assert api.get("/clinics/clinic-1/attendance", params={"from": "2024-01-02",
                                                           "to": "2024-01-01"}).status_code == 422
    assert api.get("/clinics/clinic-2/attendance", params={
        "from": "2024-01-01", "to": "2024-01-02"}).status_code == 403


def test_a_session_is_held_from_its_start_on_so_a_future_one_is_never_billed(scheduling):
    client_id = register(scheduling)
    now = utc_now().replace(microsecond=0)
    ahead = booked(scheduling, client_id, iso(now + timedelta(days=13)))
    response = scheduling.api.post(f"/appointments/{ahead['appointment_id']}/held",
                                   {"minutes": 50})
    assert response.status_code == 409, response.text
    assert "not started yet" in response.json()["message"]
    assert "start" in response.json()["fields"]
    assert stored(scheduling, "SessionHeld") == []
    assert scheduling.api.get(f"/appointments/{ahead['appointment_id']}").json()["status"] \
        == "booked"
    # Inside the clock-skew tolerance (a few minutes before the start) it can be held.
    starting = booked(scheduling, client_id, iso(now + timedelta(minutes=2)),
                      clinician_id="dr-2")
    response = scheduling.api.post(f"/appointments/{starting['appointment_id']}/held",
                                   {"minutes": 50})
    assert response.status_code == 201, response.text
    assert len(stored(scheduling, "SessionHeld")) == 1


# -- intake's episodes and discharges --------------------------------------------------------
def test_episodes_number_sessions_and_a_discharge_cancels_what_is_ahead(scheduling):
    client_id = register(scheduling)
    episode_id = str(uuid.uuid4())
    opened = make_event("intake", "EpisodeOpened", {
        "client_id": client_id, "episode_id": episode_id,
        "opened_at": iso(utc_now() - timedelta(days=30))}, subject=f"client-{client_id}",
        sequence=2)
    publish_event(scheduling.amqp_uri, opened)
    wait_until(lambda: opened.id in {e.id for e in stored(scheduling)}, message="episode")

    base = utc_now().replace(microsecond=0)
    for days_ago in (14, 7):
        appointment = booked(scheduling, client_id, iso(base - timedelta(days=days_ago)),
                             modality="phone")
        held = scheduling.api.post(f"/appointments/{appointment['appointment_id']}/held",
                                   {"minutes": 45})
        assert held.status_code == 201, held.text
    sessions = stored(scheduling, "SessionHeld")
    assert [s.data["session_number"] for s in sessions] == [1, 2]
    assert {s.data["episode_id"] for s in sessions} == {episode_id}
    assert {(s.data["audio_only"], s.data["place_of_service"]) for s in sessions} == \
        {(True, "client_home")}

    ahead = [booked(scheduling, client_id, iso(base + timedelta(days=d)))["appointment_id"]
             for d in (1, 8)]
    unheld_past = booked(scheduling, client_id, iso(base - timedelta(days=1)))["appointment_id"]
    discharged = make_event("intake", "ClientDischarged", {
        "client_id": client_id, "episode_id": episode_id, "reason": "planned_ending",
        "discharged_at": iso(base)}, subject=f"client-{client_id}", sequence=3)
    publish_event(scheduling.amqp_uri, discharged)
    wait_until(lambda: len(stored(scheduling, "AppointmentCancelled")) == 2,
               message="future appointments cancelled")
    cancelled = stored(scheduling, "AppointmentCancelled")
    assert {c.data["appointment_id"] for c in cancelled} == set(ahead)
    assert {(c.data["cancelled_by"], c.data["late"]) for c in cancelled} == {("clinic", False)}
    assert all(c.causationid == discharged.id for c in cancelled)
    assert scheduling.api.get(f"/appointments/{unheld_past}").json()["status"] == "booked"

    # Delivered again: nothing more.
    redeliver(scheduling, discharged)
    redeliver(scheduling, opened)
    assert len(stored(scheduling, "AppointmentCancelled")) == 2

    # After the discharge there is no open episode: numbering restarts outside one.
    later = booked(scheduling, client_id, iso(base - timedelta(hours=3)))
    held = scheduling.api.post(f"/appointments/{later['appointment_id']}/held",
                               {"minutes": 50}).json()
    assert held["episode_id"] is None and held["session_number"] == 1


# -- the calendar feed -----------------------------------------------------------------------
def test_the_ics_feed_has_its_own_token_and_no_names_unless_allowed(scheduling):
    api = scheduling.api
    configure_london(scheduling)
    api.put("/clinicians/dr-1", {"name": "Dr One", "clinic_ids": ["clinic-1"],
                                 "working_hours": []}, bearer=ADMIN)
    client_id = register(scheduling)
    start = (utc_now() + timedelta(days=3)).replace(microsecond=0)
    kept = booked(scheduling, client_id, iso(start), override_working_hours=True)
    dropped = booked(scheduling, client_id, iso(start + timedelta(days=1)),
                     override_working_hours=True)
    api.post(f"/appointments/{dropped['appointment_id']}/cancel", {"cancelled_by": "client"})

    issued = api.post("/clinicians/dr-1/calendar-feeds", bearer=token(user="dr-1"))
    assert issued.status_code == 201, issued.text
    feed_token = issued.json()["feed_token"]
    assert issued.json()["path"].endswith(f"feed_token={feed_token}")
    assert api.post("/clinicians/dr-1/calendar-feeds",
                    bearer=token(role="front_desk")).status_code == 403
    assert api.post("/clinicians/nobody/calendar-feeds", bearer=ADMIN).status_code == 404

    response = api.get("/clinicians/dr-1/calendar.ics", params={"feed_token": feed_token},
                       bearer="")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"{kept['appointment_id']}@praxis",
                           f"{dropped['appointment_id']}@praxis"}
    event = events[f"{kept['appointment_id']}@praxis"]
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") == start + timedelta(minutes=50)
    assert str(event["summary"]) == "Individual session"
    assert "Ada" not in response.text and "Lovelace" not in response.text
    assert str(event["url"]) == kept["video_link"]
    assert str(events[f"{dropped['appointment_id']}@praxis"]["status"]) == "CANCELLED"

    # Tokens are not interchangeable; a token for one clinician opens no other feed.
    assert api.get("/clinicians/dr-1/calendar.ics", bearer="").status_code == 401
    assert api.get("/clinicians/dr-1/calendar.ics", params={"feed_token": ADMIN},
                   bearer="").status_code == 401
    assert api.get("/clinicians/dr-2/calendar.ics", params={"feed_token": feed_token},
                   bearer="").status_code == 401
    assert api.get(f"/appointments/{kept['appointment_id']}",
                   bearer=feed_token).status_code == 401

    # The clinic allows names: the summary says who.
    configure_london(scheduling, calendar_shows_client_names=True)
    text = api.get("/clinicians/dr-1/calendar.ics", params={"feed_token": feed_token},
                   bearer="").text
    assert "Individual session with Ada Lovelace" in text.replace("\r\n ", "")
    day = api.get("/clinicians/dr-1/day", params={"date": start.date().isoformat()}).json()
    assert day["clinic_id"] == "clinic-1"  # from the clinician's profile
    assert day["days"][0]["appointments"][0]["client_name"] == "Ada Lovelace"


def test_room_occupancy_and_tenancy_of_the_new_reads(scheduling):
    api = scheduling.api
    api.post("/clinics/clinic-1/rooms", {"room_id": "blue", "name": "Blue"}, bearer=ADMIN)
    ada, bob = register(scheduling), register(scheduling)
    booked(scheduling, ada, "2024-09-02T09:00:00Z", modality="in_person", room_id="blue")
    booked(scheduling, bob, "2024-09-02T23:30:00Z", modality="in_person", room_id="blue",
           duration_minutes=60, clinician_id="dr-2")  # runs past midnight (UTC clinic)
    occupancy = api.get("/clinics/clinic-1/rooms/blue/occupancy",
                        params={"date": "2024-09-02", "days": 2}).json()
    assert [d["occupied_minutes"] for d in occupancy["days"]] == [80, 30]
    assert occupancy["days"][0]["occupancy"] == round(80 / 1440, 4)
    assert len(occupancy["days"][1]["appointments"]) == 1
    assert api.get("/clinics/clinic-1/rooms/red/occupancy",
                   params={"date": "2024-09-02"}).status_code == 404
    assert api.get("/clinics/clinic-1/rooms/blue/occupancy").status_code == 422
    other = token(org="org-2", clinics=["*"])
    assert api.get("/clinics/clinic-1/rooms/blue/occupancy", params={"date": "2024-09-02"},
                   bearer=other).status_code == 404
    assert api.get("/clinicians/dr-1/day", params={"date": "2024-09-02",
                                                   "clinic_id": "clinic-2"}).status_code == 403
    assert api.get("/clinicians/dr-1/day", params={"date": "2024-09-02"},
                   bearer=token(clinics=["*"])).status_code == 422  # which clinic?
    assert api.get("/clinicians/dr-1/day", params={"date": "2024-09-02"},
                   bearer=token(role="billing")).status_code == 403

    # Read models come from events alone: a replay reproduces them.
    store = scheduling.application.store
    with store.read() as conn:
        snapshot = scheduling.application.projection.snapshot(conn)
    rebuild(store)
    with store.read() as conn:
        assert scheduling.application.projection.snapshot(conn) == snapshot


def test_read_models_of_an_older_shape_are_replayed_at_start(database_url):
    """A database from before this version has an `appointments` table without the
    new columns: the application rebuilds its read models from the store."""
    from sqlalchemy import inspect, text

    from services.scheduling.application import SchedulingApplication
    from shared.store import make_engine

    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE appointments (appointment_id VARCHAR(36) PRIMARY KEY, "
                          "status VARCHAR(20))"))
    engine.dispose()
    app = SchedulingApplication(database_url)
    columns = {c["name"] for c in inspect(app.store.engine).get_columns("appointments")}
    assert {"session_type", "series_id", "late", "end"} <= columns
    app.store.engine.dispose()


def test_a_clinician_outside_the_care_team_sees_only_busy_slots(scheduling):
    """Another clinician's day and a room's day show that a time and a room are taken,
    not whose appointment it is (care teams, issue 11)."""
    api = scheduling.api
    configure_london(scheduling, calendar_shows_client_names=True)
    api.post("/clinics/clinic-1/rooms", {"room_id": "blue", "name": "Blue"}, bearer=ADMIN)
    ada = register(scheduling)  # primary clinician: user-1, the default token's
    appointment = booked(scheduling, ada, "2024-09-02T09:00:00Z", modality="in_person",
                         room_id="blue")
    outsider = token(org="org-1", clinics=["clinic-1"], user="dr-outside")
    params = {"date": "2024-09-02"}
    for bearer, sees_client in ((None, True), (ADMIN, True), (outsider, False)):
        day = api.get("/clinicians/dr-1/day", params=params, bearer=bearer)
        room = api.get("/clinics/clinic-1/rooms/blue/occupancy", params=params, bearer=bearer)
        for response in (day, room):
            assert response.status_code == 200, response.text
            (slot,) = response.json()["days"][0]["appointments"]
            assert slot["appointment_id"] == appointment["appointment_id"]
            assert (slot["start"], slot["room_id"]) == ("2024-09-02T09:00:00Z", "blue")
            if sees_client:
                assert (slot["client_id"], slot["client_name"]) == (ada, "Ada Lovelace")
            else:
                assert slot["client_id"] is None and slot["busy_only"] is True
                assert ada not in response.text and "Ada" not in response.text
        assert room.json()["days"][0]["occupied_minutes"] == 50
    # The appointment itself stays out of the outsider's reach.
    assert api.get(f"/appointments/{appointment['appointment_id']}",
                   bearer=outsider).status_code == 404
