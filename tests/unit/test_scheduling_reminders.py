"""Reminder slots and their rules (services/scheduling/domain/reminders.py)."""
from datetime import datetime, timedelta, timezone

import pytest

from services.scheduling.domain import reminders as rules
from services.scheduling.domain.appointments import Appointment
from services.scheduling.domain.reminders import Reminder
from shared.events import catalogue
from shared.envelope import Event
from shared.errors import Conflict, InvalidInput

START = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("hours, expected", [
    (None, []), ([], []), ([2, 48], [48, 2]), ([336, 1], [336, 1]), ([24], [24])])
def test_a_schedule_is_its_slots_largest_first(hours, expected):
    assert rules.schedule(hours) == expected


@pytest.mark.parametrize("hours", [[0], [337], [-2], [2, 2], [1, 2, 3, 4, 5], ["2"], [True],
                                   [1.5], 48, "48"])
def test_a_bad_schedule_names_its_field(hours):
    with pytest.raises(InvalidInput) as raised:
        rules.schedule(hours)
    assert "reminder_hours_before" in raised.value.fields


@pytest.mark.parametrize("before, expected", [
    (timedelta(hours=49), None), (timedelta(hours=48), 48), (timedelta(hours=47), 48),
    (timedelta(hours=2, minutes=1), 48), (timedelta(hours=2), 2), (timedelta(minutes=1), 2),
    (timedelta(0), None), (-timedelta(minutes=5), None)])
def test_the_slot_due_is_the_nearest_whose_time_came(before, expected):
    assert rules.due_slot(START, [48, 2], START - before) == expected


def test_no_schedule_no_slot():
    assert rules.due_slot(START, [], START - timedelta(hours=1)) is None


def booked(status="booked"):
    appointment = Appointment("a-1", status=status, client_id="c-1", clinician_id="dr-1",
                              start=START, duration_minutes=50, modality="video")
    return appointment


def applied(reminder, new_events, at):
    for index, new in enumerate(new_events):
        reminder.apply(Event(id=str(index), source="/praxis/scheduling",
                             type=catalogue.latest_type("scheduling", new.name),
                             subject=reminder.stream_id, time=at.isoformat(), data=new.data,
                             sequence=reminder.version + 1, organisationid="org-1",
                             clinicid="clinic-1", correlationid="c"))
    return reminder


def test_a_slot_is_claimed_once_and_only_while_the_appointment_is_open():
    now = START - timedelta(hours=47)
    reminder = Reminder(Reminder.key_of("a-1", START, 48))
    (claim,) = rules.claim(reminder, booked(), 48, now)
    assert claim.name == "ReminderClaimed" and claim.data["hours_before"] == 48
    applied(reminder, [claim], now)
    with pytest.raises(Conflict):
        rules.claim(reminder, booked(), 48, now)
    for status in ("cancelled", "held", "no_show"):
        with pytest.raises(Conflict):
            rules.claim(Reminder("k"), booked(status), 48, now)


def test_a_claim_left_unfinished_past_its_timeout_was_interrupted():
    now = START - timedelta(hours=47)
    reminder = applied(Reminder("k"), rules.claim(Reminder("k"), booked(), 48, now), now)
    assert not rules.interrupted(reminder, now + rules.CLAIM_TIMEOUT - timedelta(seconds=1))
    assert rules.interrupted(reminder, now + rules.CLAIM_TIMEOUT)
    applied(reminder, rules.sent(reminder, booked(), START, 48, now), now)
    assert not rules.interrupted(reminder, now + timedelta(hours=1))


def test_the_message_names_the_appointment_the_time_and_the_clinic_only():
    subject, text = rules.message("Riverside", START, "UTC", None)
    assert "Riverside" in subject and "appointment" in text and "09:00" in text
    assert "http" not in text
    _, video = rules.message("Riverside", START, "UTC", "https://meet.example.org/x")
    assert "https://meet.example.org/x" in video
