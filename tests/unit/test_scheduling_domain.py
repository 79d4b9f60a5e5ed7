"""Appointments, the double-booking rule, clinics and working hours: plain values in,
events or errors out."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.scheduling.domain import appointments as booking
from services.scheduling.domain import calendar
from shared.errors import Conflict, InvalidInput

START = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)  # a Monday
HELD_AT = START + timedelta(minutes=50)  # when the session is marked held
CLIENT = str(uuid.uuid4())
LONDON = calendar.ClinicSettings("clinic-1", "Leeds", "Europe/London", 24,
                                 "https://meet.example.org/praxis-{appointment_id}", False)


class Recorded:
    """An event as the store hands it back: name, data, sequence."""

    def __init__(self, new, sequence):
        self.name, self.data, self.sequence = new.name, new.data, sequence


def replay(appointment_id, *batches):
    events = [e for batch in batches for e in batch]
    return booking.Appointment.from_events(
        appointment_id, [Recorded(e, i) for i, e in enumerate(events, 1)])


def booked(**overrides):
    args = dict(appointment_id=str(uuid.uuid4()), client_id=CLIENT, clinician_id="dr-1",
                start=START, duration_minutes=50, modality="video")
    args.update(overrides)
    events = booking.book(**args)
    return replay(args["appointment_id"], events), events


# -- booking -----------------------------------------------------------------------
def test_booking_records_the_appointment_in_json_form():
    (event,) = booking.book("a-1", CLIENT, "dr-1", START, 50, "in_person", rooms={"r-1"},
                            room_id="r-1")
    assert event.name == "AppointmentBooked"
    assert event.data == {"appointment_id": "a-1", "client_id": CLIENT, "clinician_id": "dr-1",
                          "start": "2024-03-04T09:00:00Z", "duration_minutes": 50,
                          "modality": "in_person", "session_type": "individual",
                          "room_id": "r-1", "video_link": None, "series_id": None}


def test_a_video_appointment_gets_its_link_from_the_clinic_template():
    (event,) = booking.book("a-1", CLIENT, "dr-1", START, 50, "video", clinic=LONDON)
    assert event.data["video_link"] == "https://meet.example.org/praxis-a-1"
    (phone,) = booking.book("a-2", CLIENT, "dr-1", START, 50, "phone", clinic=LONDON)
    assert phone.data["video_link"] is None
    (no_template,) = booking.book("a-3", CLIENT, "dr-1", START, 50, "video")
    assert no_template.data["video_link"] is None


@pytest.mark.parametrize("overrides, field", [
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": -5}, "duration_minutes"),
    ({"duration_minutes": True}, "duration_minutes"),
    ({"modality": "telepathy"}, "modality"),
    ({"session_type": "couples"}, "session_type"),
    ({"start": datetime(2024, 3, 4, 9, 0)}, "start"),  # naive: no time zone
    ({"clinician_id": ""}, "clinician_id"),
    ({"room_id": "r-9"}, "room_id"),                    # not a room of the clinic
    ({"room_id": "r-1", "modality": "video"}, "room_id"),  # a room is for in person
])
def test_booking_refuses_bad_input_naming_the_field(overrides, field):
    args = dict(appointment_id="a-1", client_id=CLIENT, clinician_id="dr-1", start=START,
                duration_minutes=50, modality="in_person", rooms={"r-1"})
    args.update(overrides)
    with pytest.raises(InvalidInput) as caught:
        booking.book(**args)
    assert list(caught.value.fields) == [field]


# -- no double booking ---------------------------------------------------------------
def slot(appointment_id, start_hour, minutes=50, clinician="dr-1", client=CLIENT, room=None):
    start = START.replace(hour=start_hour)
    return booking.Slot(appointment_id, client, clinician, room, start,
                        start + timedelta(minutes=minutes))


def test_the_clinician_the_client_or_the_room_cannot_be_in_two_places():
    other = str(uuid.uuid4())
    taken = [slot("taken", 9, room="r-1")]
    with pytest.raises(booking.DoubleBooking) as caught:
        booking.check_free(slot("new", 9, client=other), taken)
    assert caught.value.conflicting_appointment_id == "taken"
    assert caught.value.status == 409
    assert caught.value.to_dict()["conflicting_appointment_id"] == "taken"
    assert "clinician_id" in caught.value.fields
    with pytest.raises(booking.DoubleBooking) as caught:
        booking.check_free(slot("new", 9, clinician="dr-2"), taken)
    assert "client_id" in caught.value.fields
    with pytest.raises(booking.DoubleBooking) as caught:
        booking.check_free(slot("new", 9, clinician="dr-2", client=other, room="r-1"), taken)
    assert "room_id" in caught.value.fields
    # Someone else entirely, another room: free.
    booking.check_free(slot("new", 9, clinician="dr-2", client=other, room="r-2"), taken)


def test_back_to_back_is_not_a_conflict_but_one_minute_of_overlap_is():
    taken = [slot("taken", 9, minutes=60)]
    booking.check_free(slot("new", 10), taken)           # starts as the other ends
    booking.check_free(slot("new", 8, minutes=60), taken)  # ends as the other starts
    with pytest.raises(booking.DoubleBooking):
        booking.check_free(slot("new", 8, minutes=61), taken)
    with pytest.raises(booking.DoubleBooking):
        booking.check_free(booking.Slot("new", CLIENT, "dr-1", None,
                                        START + timedelta(minutes=59),
                                        START + timedelta(minutes=70)), taken)
    # An appointment never conflicts with itself (a move within its own slot).
    booking.check_free(slot("taken", 9, minutes=30), taken)


# -- an appointment's life ---------------------------------------------------------------
def test_holding_numbers_the_session_and_fills_in_billing_defaults():
    appointment, _ = booked()
    (event,) = booking.hold(appointment, 47, held_before=2, episode_id="e-1", at=HELD_AT)
    assert event.name == "SessionHeld"
    assert event.data["session_number"] == 3 and event.data["episode_id"] == "e-1"
    assert event.data["minutes"] == 47 and event.data["modality"] == "video"
    assert event.data["session_type"] == "individual"
    assert event.data["place_of_service"] == "client_home"
    assert event.data["audio_only"] is False


@pytest.mark.parametrize("modality, place, audio_only", [
    ("in_person", "office", False), ("video", "client_home", False),
    ("phone", "client_home", True)])
def test_default_place_of_service_and_audio_only_follow_the_modality(modality, place,
                                                                      audio_only):
    appointment, _ = booked(modality=modality)
    (event,) = booking.hold(appointment, 50, 0, at=HELD_AT)
    assert (event.data["place_of_service"], event.data["audio_only"]) == (place, audio_only)


def test_the_held_request_may_say_otherwise():
    appointment, _ = booked(modality="video", session_type="family")
    (event,) = booking.hold(appointment, 50, 0, place_of_service="elsewhere", audio_only=True,
                            session_type="crisis", at=HELD_AT)
    assert event.data["place_of_service"] == "elsewhere"
    assert event.data["audio_only"] is True and event.data["session_type"] == "crisis"
    (default,) = booking.hold(appointment, 50, 0, at=HELD_AT)
    assert default.data["session_type"] == "family"  # as booked
    in_person, _ = booked(modality="in_person")
    with pytest.raises(InvalidInput) as caught:
        booking.hold(in_person, 50, 0, audio_only=True, at=HELD_AT)
    assert "audio_only" in caught.value.fields


def test_holding_twice_or_after_a_cancellation_is_a_conflict():
    appointment, events = booked()
    held = replay(appointment.appointment_id, events,
                  booking.hold(appointment, 50, 0, at=HELD_AT))
    assert held.held and held.version == 2
    with pytest.raises(Conflict, match="already held"):
        booking.hold(held, 50, 1, at=HELD_AT)
    cancelled = replay(appointment.appointment_id, events,
                       booking.cancel(appointment, "client", None, START, 24))
    with pytest.raises(Conflict, match="cancelled"):
        booking.hold(cancelled, 50, 0, at=HELD_AT)
    with pytest.raises(Conflict):
        booking.hold(booking.Appointment("nope"), 50, 0, at=HELD_AT)


@pytest.mark.parametrize("minutes", [-1, 24 * 60 + 1, "50", None])
def test_holding_refuses_bad_minutes(minutes):
    with pytest.raises(InvalidInput) as caught:
        booking.hold(booked()[0], minutes, 0, at=HELD_AT)
    assert "minutes" in caught.value.fields


@pytest.mark.parametrize("hours_before, by, late", [
    (24, "client", False),          # exactly the window: not late
    (23.99, "client", True),
    (1, "client", True),
    (-0.5, "client", True),         # after the start
    (1, "clinician", False),        # only a client's cancellation is late
    (1, "clinic", False),
])
def test_a_client_cancelling_inside_the_window_is_late(hours_before, by, late):
    appointment, _ = booked()
    (event,) = booking.cancel(appointment, by, "ill", START - timedelta(hours=hours_before), 24)
    assert event.data["late"] is late
    assert event.data["notice_minutes"] == int(hours_before * 60) if hours_before >= 0 \
        else event.data["notice_minutes"] == -30
    assert event.data["cancelled_by"] == by and event.data["reason"] == "ill"


def test_the_window_is_the_clinics():
    appointment, _ = booked()
    (event,) = booking.cancel(appointment, "client", None, START - timedelta(hours=30), 48)
    assert event.data["late"] is True
    (event,) = booking.cancel(appointment, "client", None, START - timedelta(hours=30), 0)
    assert event.data["late"] is False


def test_check_in_then_no_show_is_refused_and_no_show_waits_for_the_start():
    appointment, events = booked()
    with pytest.raises(Conflict, match="not started"):
        booking.no_show(appointment, START - timedelta(minutes=1))
    (no_show,) = booking.no_show(appointment, START + timedelta(minutes=15))
    assert no_show.data["recorded_at"] == "2024-03-04T09:15:00Z"
    checked_in = replay(appointment.appointment_id, events, booking.check_in(appointment, START))
    assert checked_in.status == "checked_in"
    with pytest.raises(Conflict):
        booking.no_show(checked_in, START + timedelta(minutes=15))
    with pytest.raises(Conflict):
        booking.check_in(checked_in, START)
    booking.hold(checked_in, 50, 0, at=HELD_AT)  # a checked-in client's session can be held


def test_a_session_is_held_from_its_start_on_never_ahead_of_it():
    appointment, _ = booked()
    for early in (timedelta(days=13), timedelta(hours=1),
                  booking.HOLD_EARLY_TOLERANCE + timedelta(seconds=1)):
        with pytest.raises(Conflict, match="not started yet") as caught:
            booking.hold(appointment, 50, 0, at=START - early)
        assert caught.value.status == 409 and "start" in caught.value.fields
    # Clocks a few minutes apart: from the tolerance before the start on, it can be held.
    booking.hold(appointment, 50, 0, at=START - booking.HOLD_EARLY_TOLERANCE)
    booking.hold(appointment, 50, 0, at=START)
    booking.hold(appointment, 50, 0, at=START + timedelta(days=30))


def test_rescheduling_keeps_the_room_unless_told_and_refuses_settled_appointments():
    appointment, events = booked(modality="in_person", room_id="r-1", rooms={"r-1", "r-2"})
    (moved,) = booking.reschedule(appointment, START + timedelta(days=1))
    assert moved.data["previous_start"] == "2024-03-04T09:00:00Z"
    assert moved.data["start"] == "2024-03-05T09:00:00Z"
    assert moved.data["room_id"] == "r-1" and moved.data["duration_minutes"] == 50
    (other_room,) = booking.reschedule(appointment, START, 30, "r-2", {"r-1", "r-2"},
                                       keep_room=False)
    assert other_room.data["room_id"] == "r-2" and other_room.data["duration_minutes"] == 30
    after = replay(appointment.appointment_id, events, [moved])
    assert after.start == START + timedelta(days=1)
    held = replay(appointment.appointment_id, events,
                  booking.hold(appointment, 50, 0, at=HELD_AT))
    with pytest.raises(Conflict):
        booking.reschedule(held, START + timedelta(days=1))


# -- clinics and working hours -----------------------------------------------------------
def test_configuring_a_clinic_checks_zone_window_and_template():
    (event,) = calendar.configure_clinic("Leeds", "Europe/London", 48,
                                         "https://meet.example.org/{clinic_id}/{appointment_id}",
                                         True)
    assert event.data == {"name": "Leeds", "time_zone": "Europe/London",
                          "late_cancel_window_hours": 48,
                          "video_link_template":
                              "https://meet.example.org/{clinic_id}/{appointment_id}",
                          "calendar_shows_client_names": True, "reminder_hours_before": []}
    for kwargs, field in [({"time_zone": "Mars/Olympus"}, "time_zone"),
                          ({"reminder_hours_before": [2, 2]}, "reminder_hours_before"),
                          ({"late_cancel_window_hours": -1}, "late_cancel_window_hours"),
                          ({"video_link_template": "https://x/{client_name}"},
                           "video_link_template"),
                          ({"video_link_template": "http://x/{appointment_id}"},
                           "video_link_template"),
                          ({"video_link_template": "https://x/{"}, "video_link_template")]:
        with pytest.raises(InvalidInput) as caught:
            calendar.configure_clinic("Leeds", **kwargs)
        assert field in caught.value.fields


def profile(hours, clinics=("clinic-1",)):
    (event,) = calendar.set_clinician_profile("dr-1", "Dr One", list(clinics), hours)
    return calendar.clinician_profile(event.data)


def test_working_hours_are_read_on_the_clinics_wall_clock():
    dr = profile([{"weekday": 0, "start": "09:00", "end": "17:00"}])
    # 09:00 UTC on Monday 4 March is 09:00 in London (winter) ...
    assert dr.within_hours(LONDON, START, START + timedelta(minutes=50))
    # ... and 08:00 UTC on Monday 1 April is 09:00 in London (summer).
    april = datetime(2024, 4, 1, 8, 0, tzinfo=timezone.utc)
    assert dr.within_hours(LONDON, april, april + timedelta(hours=8))
    assert not dr.within_hours(LONDON, april - timedelta(minutes=1), april + timedelta(hours=1))
    assert not dr.within_hours(LONDON, april, april + timedelta(hours=8, minutes=1))
    # Tuesday: no hours at all.
    assert not dr.within_hours(LONDON, START + timedelta(days=1),
                               START + timedelta(days=1, minutes=50))


def test_working_hours_may_belong_to_one_clinic_and_may_end_at_midnight():
    dr = profile([{"weekday": 0, "start": "18:00", "end": "24:00", "clinic_id": "clinic-2"}],
                 clinics=("clinic-1", "clinic-2"))
    late = datetime(2024, 3, 4, 23, 0, tzinfo=timezone.utc)
    elsewhere = calendar.ClinicSettings("clinic-2")
    assert dr.within_hours(elsewhere, late, late + timedelta(hours=1))
    assert not dr.within_hours(calendar.ClinicSettings("clinic-1"), late,
                               late + timedelta(hours=1))
    assert not dr.within_hours(elsewhere, late, late + timedelta(hours=1, minutes=1))


@pytest.mark.parametrize("hours, field", [
    ([{"weekday": 0, "start": "17:00", "end": "09:00"}], "working_hours"),
    ([{"weekday": 0, "start": "25:00", "end": "26:00"}], "working_hours"),
    ([{"weekday": 0, "start": "09:00", "end": "10:00", "clinic_id": "clinic-9"}],
     "working_hours"),
])
def test_a_profile_refuses_bad_hours(hours, field):
    with pytest.raises(InvalidInput) as caught:
        calendar.set_clinician_profile("dr-1", "Dr One", ["clinic-1"], hours)
    assert field in caught.value.fields


def test_a_day_is_23_or_25_hours_when_the_clocks_change():
    spring, _ = LONDON.day_bounds(datetime(2024, 3, 31).date())
    start, end = LONDON.day_bounds(datetime(2024, 3, 31).date())
    assert (end - start) == timedelta(hours=23) and spring == start
    start, end = LONDON.day_bounds(datetime(2024, 10, 27).date())
    assert (end - start) == timedelta(hours=25)
    start, end = LONDON.day_bounds(datetime(2024, 3, 25).date(), days=7)
    assert start == datetime(2024, 3, 25, 0, 0, tzinfo=timezone.utc)
    assert end == datetime(2024, 3, 31, 23, 0, tzinfo=timezone.utc)


def test_a_family_session_records_whether_the_client_was_there():
    family, _ = booked(session_type="family")
    (present,) = booking.hold(family, 50, 0, at=HELD_AT)
    assert present.data["client_present"] is True
    (absent,) = booking.hold(family, 50, 0, client_present=False, at=HELD_AT)
    assert absent.data["client_present"] is False
    individual, _ = booked()
    (plain,) = booking.hold(individual, 50, 0, at=HELD_AT)
    assert plain.data["client_present"] is None
    with pytest.raises(InvalidInput) as caught:
        booking.hold(individual, 50, 0, client_present=False, at=HELD_AT)
    assert "client_present" in caught.value.fields
