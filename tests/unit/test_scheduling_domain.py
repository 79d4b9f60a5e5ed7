import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.scheduling import domain
from shared.errors import Conflict, InvalidInput

START = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CLIENT = str(uuid.uuid4())


class Recorded:
    """An event as the store hands it back: name, data, sequence."""

    def __init__(self, new, sequence):
        self.name, self.data, self.sequence = new.name, new.data, sequence


def booked_appointment(**overrides):
    args = dict(appointment_id=str(uuid.uuid4()), client_id=CLIENT, clinician_id="dr-1",
                start=START, duration_minutes=50, modality="video")
    args.update(overrides)
    events = domain.book(**args)
    return domain.Appointment.from_events(args["appointment_id"],
                                          [Recorded(e, i) for i, e in enumerate(events, 1)])


def hours(n):
    return T0 + timedelta(hours=n)


# -- booking and holding ---------------------------------------------------
def test_booking_records_the_appointment_in_json_form():
    (event,) = domain.book("a-1", CLIENT, "dr-1", START, 50, "in_person")
    assert event.name == "AppointmentBooked"
    assert event.data == {"appointment_id": "a-1", "client_id": CLIENT, "clinician_id": "dr-1",
                          "start": "2024-03-04T09:00:00Z", "duration_minutes": 50,
                          "modality": "in_person"}


@pytest.mark.parametrize("overrides, field", [
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": -5}, "duration_minutes"),
    ({"duration_minutes": True}, "duration_minutes"),
    ({"modality": "phone"}, "modality"),
    ({"start": datetime(2024, 3, 4, 9, 0)}, "start"),  # naive: no time zone
    ({"clinician_id": ""}, "clinician_id"),
])
def test_booking_refuses_bad_input_naming_the_field(overrides, field):
    args = dict(appointment_id="a-1", client_id=CLIENT, clinician_id="dr-1", start=START,
                duration_minutes=50, modality="video")
    args.update(overrides)
    with pytest.raises(InvalidInput) as caught:
        domain.book(**args)
    assert list(caught.value.fields) == [field]


def test_holding_numbers_the_session_after_those_already_held():
    appointment = booked_appointment()
    (event,) = domain.hold(appointment, 47, held_before=2)
    assert event.name == "SessionHeld"
    assert event.data["session_number"] == 3
    assert event.data["minutes"] == 47
    assert event.data["client_id"] == CLIENT and event.data["modality"] == "video"
    assert event.data["start"] == "2024-03-04T09:00:00Z"


def test_holding_twice_is_a_conflict():
    appointment = booked_appointment()
    events = domain.hold(appointment, 50, 0)
    again = domain.Appointment.from_events(appointment.appointment_id, [
        Recorded(domain.book(appointment.appointment_id, CLIENT, "dr-1", START, 50,
                             "video")[0], 1),
        Recorded(events[0], 2)])
    assert again.held and again.version == 2
    with pytest.raises(Conflict):
        domain.hold(again, 50, 1)


def test_holding_an_unbooked_appointment_is_a_conflict():
    with pytest.raises(Conflict):
        domain.hold(domain.Appointment("nope"), 50, 0)


@pytest.mark.parametrize("minutes", [-1, 24 * 60 + 1, "50", None])
def test_holding_refuses_bad_minutes(minutes):
    with pytest.raises(InvalidInput) as caught:
        domain.hold(booked_appointment(), minutes, 0)
    assert "minutes" in caught.value.fields


def test_policy_must_be_a_positive_integer():
    assert domain.set_policy(6)[0].data == {"every_sessions": 6}
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidInput) as caught:
            domain.set_policy(bad)
        assert "every_sessions" in caught.value.fields


# -- the reassessment cadence ---------------------------------------------
def cadence_with(sessions, assessment=None):
    cadence = domain.Cadence(CLIENT)
    if assessment:
        cadence.assessed(*assessment)
    for n in sessions:
        cadence.held(hours(n))
    return cadence


def test_not_due_at_n_minus_one_due_at_exactly_n():
    cadence = cadence_with([1, 2, 3])
    assert cadence.decide(4, hours(10)) == []
    cadence.held(hours(4))
    (event,) = cadence.decide(4, hours(10))
    assert event.name == "ReassessmentDue"
    assert event.data == {"client_id": CLIENT, "sessions_since_assessment": 4,
                          "last_assessment_id": None,
                          "reason": "4 sessions held since registration (policy: every 4)",
                          "due_at": "2024-01-01T10:00:00Z"}
    assert event.id == str(uuid.uuid5(domain.REASSESSMENT_NAMESPACE,
                                      f"ReassessmentDue:{CLIENT}:none"))


def test_not_due_twice_in_one_cycle():
    cadence = cadence_with([1, 2, 3, 4])
    (event,) = cadence.decide(4, hours(10))
    cadence.flagged(event.data["last_assessment_id"])
    cadence.held(hours(5))
    assert cadence.decide(4, hours(11)) == []


def test_the_event_id_is_the_same_for_the_same_cycle_whoever_decides():
    first = cadence_with([1, 2, 3, 4], ("a-1", hours(0))).decide(4, hours(10))[0]
    second = cadence_with([1, 2, 3, 4, 5], ("a-1", hours(0))).decide(4, hours(20))[0]
    assert first.id == second.id == domain.reassessment_event_id(CLIENT, "a-1")
    assert first.id != domain.reassessment_event_id(CLIENT, None)


def test_a_new_assessment_starts_a_new_cycle():
    cadence = cadence_with([1, 2, 3, 4])
    cadence.flagged(None)
    assert cadence.assessed("a-1", hours(4.5))
    assert cadence.sessions_since_assessment == 0
    for n in (5, 6, 7):
        cadence.held(hours(n))
        assert cadence.decide(4, hours(n)) == []
    cadence.held(hours(8))
    (event,) = cadence.decide(4, hours(8))
    assert event.data["last_assessment_id"] == "a-1"
    assert event.data["sessions_since_assessment"] == 4
    assert event.data["reason"].startswith("4 sessions held since the last assessment")


def test_a_late_older_assessment_is_ignored():
    cadence = cadence_with([1, 2, 3], ("a-new", hours(0.5)))
    assert not cadence.assessed("a-old", hours(-100))
    assert not cadence.assessed("a-same-time", hours(0.5))
    assert cadence.last_assessment_id == "a-new"
    assert cadence.sessions_since_assessment == 3
    assert cadence.decide(4, hours(10)) == []
    assert domain.supersedes(None, hours(0))
    assert domain.supersedes(hours(0), hours(1))
    assert not domain.supersedes(hours(1), hours(0))


def test_an_assessment_dated_before_sessions_already_held_can_be_due_at_once():
    # The assessment arrives after 4 sessions that were held after it.
    cadence = cadence_with([1, 2, 3, 4])
    cadence.flagged(None)
    assert cadence.assessed("a-1", hours(0.5))
    (event,) = cadence.decide(4, hours(10))
    assert event.data["last_assessment_id"] == "a-1"


def test_only_sessions_after_the_assessment_count():
    cadence = cadence_with([1, 2, 3, 4, 5, 6], ("a-1", hours(3)))
    assert cadence.sessions_since_assessment == 3


@pytest.mark.parametrize("every", [1, 2, 6])
def test_a_policy_other_than_four(every):
    cadence = domain.Cadence(CLIENT)
    for n in range(1, every):
        cadence.held(hours(n))
        assert cadence.decide(every, hours(n)) == []
    cadence.held(hours(every))
    (event,) = cadence.decide(every, hours(every))
    assert event.data["sessions_since_assessment"] == every
    assert f"every {every}" in event.data["reason"]
    if every != 4:
        # The default of four does not apply when the clinic set another.
        assert (cadence_with(range(1, 5)).decide(every, hours(9)) == []) == (every > 4)
