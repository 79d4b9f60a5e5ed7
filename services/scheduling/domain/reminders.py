"""Appointment reminders: a clinic's schedule of slots (hours before the start) and
the one reminder each slot of an appointment may get.

The slot due at `now` is the nearest one whose time has come: with 48 h and 2 h,
from 48 h before the start the 48 h slot is due, from 2 h before the 2 h slot. An
appointment booked 1 h ahead gets the 2 h reminder only; none is sent once it began.

A reminder is claimed (ReminderClaimed, saved at version 0 of its own stream)
before anything is sent, then ReminderSent or ReminderFailed records the outcome.
Its stream is keyed by the appointment, the start it was decided for and the slot,
so two replicas claiming the same slot conflict (one wins) and a moved appointment
is a new key: the old start's slots are never reminded again. A claim whose
process died before its outcome was recorded is closed as ReminderFailed
`interrupted` and is not sent again: at most one e-mail per slot, never two
(SMTP cannot tell us whether an interrupted transaction was delivered).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput
from shared.timeutil import iso

MAX_SLOTS = 4
MAX_HOURS_BEFORE = 14 * 24
# A claim this old with no outcome belongs to a process that died mid-send.
CLAIM_TIMEOUT = timedelta(minutes=5)
FAILURE_REASONS = ("no_email", "refused", "unreachable", "interrupted")


def schedule(hours_before):
    """The clinic's reminder slots, largest first; InvalidInput naming the field."""
    name = "reminder_hours_before"
    if hours_before is None:
        return []
    if not isinstance(hours_before, (list, tuple)) or len(hours_before) > MAX_SLOTS:
        raise InvalidInput(f"{name} is not a list of at most {MAX_SLOTS}",
                           {name: [f"a list of at most {MAX_SLOTS} whole hours"]})
    for value in hours_before:
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 1 <= value <= MAX_HOURS_BEFORE:
            raise InvalidInput(f"{name} holds {value!r}",
                               {name: [f"each an integer 1-{MAX_HOURS_BEFORE}"]})
    if len(set(hours_before)) != len(hours_before):
        raise InvalidInput(f"{name} names an hour twice", {name: ["each hour once"]})
    return sorted(hours_before, reverse=True)


def due_slot(start, hours_before, now):
    """The slot (hours before) due at `now` for an appointment at `start`, or None."""
    if now >= start:
        return None
    come = [hours for hours in hours_before if start - timedelta(hours=hours) <= now]
    return min(come) if come else None


@dataclass
class Reminder(Aggregate):
    """One slot's reminder of one appointment at one start."""
    STREAM = "reminder-{}"

    key: str
    version: int = 0
    claimed_at: datetime = None
    outcome: str = None  # None, sent, failed

    @staticmethod
    def key_of(appointment_id, start, hours_before):
        return f"{appointment_id}/{iso(start)}/{hours_before}h"

    def _on_ReminderClaimed(self, event, data):
        from shared.timeutil import parse_time
        self.claimed_at = parse_time(data["claimed_at"])

    def _on_ReminderSent(self, event, data):
        self.outcome = "sent"

    def _on_ReminderFailed(self, event, data):
        self.outcome = "failed"


def _facts(appointment, start, hours_before):
    return {"appointment_id": appointment.appointment_id, "client_id": appointment.client_id,
            "start": iso(start), "hours_before": hours_before}


def claim(reminder, appointment, hours_before, at):
    """ReminderClaimed: this slot's reminder is being sent now. Refused (Conflict)
    when it was already claimed or the appointment is no longer open at that start."""
    if reminder.version:
        raise Conflict(f"reminder {reminder.key} was already claimed")
    appointment.require_open("remind")
    return [NewEvent("ReminderClaimed", {
        **_facts(appointment, appointment.start, hours_before), "channel": "email",
        "claimed_at": iso(at)})]


def sent(reminder, appointment, start, hours_before, at):
    return [NewEvent("ReminderSent", {**_facts(appointment, start, hours_before),
                                      "channel": "email", "sent_at": iso(at)})]


def failed(reminder, appointment, start, hours_before, reason, at):
    if reason not in FAILURE_REASONS:
        raise ValueError(reason)
    return [NewEvent("ReminderFailed", {**_facts(appointment, start, hours_before),
                                        "channel": "email", "reason": reason,
                                        "failed_at": iso(at)})]


def interrupted(reminder, at):
    """A claim nobody finished within CLAIM_TIMEOUT (its process died mid-send)."""
    return reminder.version == 1 and reminder.outcome is None \
        and reminder.claimed_at is not None and at - reminder.claimed_at >= CLAIM_TIMEOUT


def message(clinic_name, local_start, time_zone, video_link):
    """(subject, text) of a reminder: that there is an appointment, when and where;
    never the session type, the clinician or anything clinical."""
    when = local_start.strftime("%A %d %B %Y at %H:%M")
    lines = [f"This is a reminder of your appointment at {clinic_name} on {when} "
             f"({time_zone})."]
    if video_link:
        lines += ["", f"Join by video: {video_link}"]
    lines += ["", "Please contact the clinic if you cannot attend."]
    return f"Appointment reminder: {clinic_name}", "\n".join(lines) + "\n"
