"""An appointment's outcome: the client checked in, the session held, a no-show,
a cancellation (and the cancellations a discharge makes)."""
import uuid
from dataclasses import replace

from shared.envelope import Context
from shared.errors import Forbidden
from shared.timeutil import parse_time, utc_now

from ..domain import STAFF
from ..domain import appointments as booking
from ..domain.appointments import Appointment
from ..queries import records, views

# Fixed forever: the cancellations a discharge causes derive their ids from it.
DISCHARGE_NAMESPACE = uuid.UUID("9a3c1d8e-5b7f-4e2a-8c6d-1f0e9b8a7c65")


class AttendanceCommands:
    def cancel_appointment(self, caller, appointment_id, command):
        principal = caller.principal
        principal.require_role(*STAFF, "client")
        cancelled_by = command["cancelled_by"]
        if principal.role == "client" and cancelled_by != "client":
            raise Forbidden("a client cancels as the client",
                            {"cancelled_by": ["must be client"]})
        with self.store.unit_of_work() as uow:
            record, appointment = self._load_visible(uow, principal, appointment_id)
            settings = records.clinic_settings(uow.conn, record["organisation_id"],
                                               record["clinic_id"])
            self._cancel(uow, appointment, cancelled_by, command.get("reason"), utc_now(),
                         settings, caller.context_of(record))
            record = records.appointment_row(uow.conn, appointment_id)
        return views.appointment(record, settings)

    def check_in(self, caller, appointment_id):
        caller.principal.require_role(*STAFF)
        return self._attend(caller, appointment_id, booking.check_in)

    def record_no_show(self, caller, appointment_id):
        caller.principal.require_role(*STAFF)
        return self._attend(caller, appointment_id, booking.no_show)

    def hold_session(self, caller, appointment_id, command):
        appointment_id = str(appointment_id)
        caller.principal.require_role(*STAFF)
        with self.store.unit_of_work() as uow:
            # Session numbers count the client's sessions held (read models): decide
            # them one at a time.
            uow.lock()
            record, appointment = self._load_visible(uow, caller.principal, appointment_id)
            episode_id = records.open_episode_id(uow.conn, appointment.client_id)
            held_before = records.held_in_episode(uow.conn, appointment.client_id, episode_id)
            new_events = booking.hold(appointment, command["minutes"], held_before, episode_id,
                                      command.get("session_type"),
                                      command.get("place_of_service"),
                                      command.get("audio_only"),
                                      command.get("client_present"), at=utc_now())
            stamp_details_revision(uow.conn, new_events)
            (held,) = uow.save(appointment, caller.context_of(record), new_events)
            self._decide_reassessment(uow, appointment.client_id, Context.caused_by(held),
                                      utc_now())
        return held.data

    def on_client_discharged(self, uow, event, context):
        """The episode ended: the client's appointments from the discharge on are
        cancelled by the clinic (each cancellation's id derives from the discharge,
        so a redelivery or a replay can never cancel twice)."""
        discharged_at = parse_time(event.data["discharged_at"])
        reason = f"client discharged ({event.data['reason'].replace('_', ' ')})"
        for row in records.open_appointments_from(uow.conn, event.data["client_id"],
                                                  discharged_at):
            settings = records.clinic_settings(uow.conn, row["organisation_id"], row["clinic_id"])
            event_id = str(uuid.uuid5(DISCHARGE_NAMESPACE,
                                      f"{event.id}:{row['appointment_id']}"))
            # Stamped with the appointment's own clinic, caused by the discharge.
            here = replace(context, organisation_id=row["organisation_id"],
                           clinic_id=row["clinic_id"])
            self._cancel(uow, uow.get(Appointment, row["appointment_id"]), "clinic", reason,
                         discharged_at, settings, here, event_id=event_id)

    def _attend(self, caller, appointment_id, decide):
        """Save what `decide(appointment, now)` says happened to the appointment."""
        with self.store.unit_of_work() as uow:
            record, appointment = self._load_visible(uow, caller.principal, appointment_id)
            uow.save(appointment, caller.context_of(record),
                     stamp_details_revision(uow.conn, decide(appointment, utc_now())))
            record = records.appointment_row(uow.conn, appointment_id)
            settings = records.clinic_settings(uow.conn, record["organisation_id"],
                                               record["clinic_id"])
        return views.appointment(record, settings)

    def _cancel(self, uow, appointment, cancelled_by, reason, at, settings, context,
                event_id=None):
        return uow.save(appointment, context, stamp_details_revision(
            uow.conn, booking.cancel(appointment, cancelled_by, reason, at,
                                     settings.late_cancel_window_hours, event_id=event_id)))


def _priced(new):
    """What billing may charge for (its missing_fact): a clinic's cancellation, as a
    discharge makes, is never charged, so it carries no revision that would depend
    on when intake's changes happened to arrive."""
    if new.name == "AppointmentCancelled":
        return new.data.get("late") and new.data.get("cancelled_by") == "client"
    return new.name in ("SessionHeld", "AppointmentNoShow")


def stamp_details_revision(conn, new_events):
    """Put the client's known details revision on what billing prices, so billing
    waits until it has every change of the client's details and consents up to it."""
    for new in new_events:
        if _priced(new):
            row = records.client_row(conn, new.data["client_id"])
            if row is not None and row.get("details_revision"):
                new.data["client_details_revision"] = row["details_revision"]
    return new_events
