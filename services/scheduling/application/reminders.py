"""Appointment reminders by e-mail: what the timer runs every minute.

Each due slot is claimed in its own unit of work (ReminderClaimed at version 0 of
the slot's stream) before the e-mail goes, and its outcome (ReminderSent or
ReminderFailed) is recorded after: see domain/reminders.py for the guarantee.
Only clients whose contact permissions allow e-mail (intake's `email_ok`) are
reminded; what is decided is re-checked on the appointment's own stream, so a
cancelled or moved appointment gets no reminder for what it was."""
import hashlib
import logging
import uuid
from datetime import timedelta

from shared.auth import Principal
from shared.caller import Caller
from shared.errors import ConcurrencyError, Conflict
from shared.metrics import REMINDERS
from shared.timeutil import utc_now

from ..adapters.mail import DeliveryFailed
from ..domain import reminders as rules
from ..domain.appointments import Appointment
from ..domain.reminders import Reminder
from ..queries import records
from ..read_models import aware

log = logging.getLogger(__name__)
TIMER = "timer:appointment-reminders"  # the actor of what a reminder run appends
HORIZON = timedelta(hours=rules.MAX_HOURS_BEFORE)


def timer_caller():
    return Caller(Principal(TIMER, "timer", None, ()), str(uuid.uuid4()))


class ReminderCommands:
    def send_due_reminders(self, sender, now=None):
        """Claim, send and record each reminder due at `now` through `sender`
        (adapters/mail.py). Returns the events appended. With no sender (no
        PRAXIS_SMTP_HOST) nothing is decided."""
        if sender is None:
            return []
        now = now or utc_now()
        caller = timer_caller()
        appended = []
        with self.store.read() as conn:
            candidates = records.reminder_candidates(conn, now, HORIZON)
        for row in candidates:
            appended += self._remind(sender, caller, row, now)
        return appended

    def _remind(self, sender, caller, row, now):
        organisation_id, clinic_id = row["organisation_id"], row["clinic_id"]
        count_reminders_from_zero(organisation_id, clinic_id)
        start = aware(row["start"])
        with self.store.read() as conn:
            settings = records.clinic_settings(conn, organisation_id, clinic_id)
            email, email_ok = records.client_email(conn, organisation_id, clinic_id,
                                                   row["client_id"])
        hours = rules.due_slot(start, settings.reminder_hours_before, now)
        if hours is None or not email_ok:
            return []
        context = caller.context(organisation_id, clinic_id)
        key = Reminder.key_of(row["appointment_id"], start, hours)
        try:
            with self.store.unit_of_work() as uow:
                reminder = uow.get(Reminder, key)
                appointment = uow.get(Appointment, row["appointment_id"])
                if reminder.version:
                    if not rules.interrupted(reminder, now):
                        return []  # sent, failed, or being sent by another replica
                    REMINDERS.labels(organisation_id, clinic_id, "failed").inc()
                    return uow.save(reminder, context, rules.failed(
                        reminder, appointment, start, hours, "interrupted", now))
                if appointment.start != start:
                    return []  # moved since the read model was read: the new start decides
                if not email:
                    REMINDERS.labels(organisation_id, clinic_id, "failed").inc()
                    return uow.save(reminder, context, rules.failed(
                        reminder, appointment, start, hours, "no_email", now))
                appended = uow.save(reminder, context,
                                    rules.claim(reminder, appointment, hours, now))
        except ConcurrencyError:
            return []  # another replica claimed it first
        except Conflict:
            return []  # no longer open (cancelled, held, a no-show)
        # The claim is committed: from here on this slot is never sent again.
        subject, text = rules.message(settings.name or "the clinic", settings.local(start),
                                      settings.time_zone, row["video_link"]
                                      if row["modality"] == "video" else None)
        message_id = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@praxis>"
        try:
            sender.send(email, subject, text, message_id=message_id)
            outcome = rules.sent(reminder, appointment, start, hours, utc_now())
            REMINDERS.labels(organisation_id, clinic_id, "sent").inc()
        except DeliveryFailed as exc:
            outcome = rules.failed(reminder, appointment, start, hours, exc.reason, utc_now())
            REMINDERS.labels(organisation_id, clinic_id, "failed").inc()
            log.warning("reminder %s of appointment %s failed: %s", key, row["appointment_id"],
                        exc.reason)
        with self.store.unit_of_work() as uow:
            return appended + uow.save(uow.get(Reminder, key), context, outcome)


def count_reminders_from_zero(organisation_id, clinic_id):
    """A clinic that sends reminders shows 0 sent and 0 failed before its first one,
    so its dashboard panel and rate() read zero rather than no data."""
    for outcome in ("sent", "failed"):
        REMINDERS.labels(organisation_id, clinic_id, outcome)
