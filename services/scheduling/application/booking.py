"""Booking: an appointment, a weekly or fortnightly series, a move."""
import uuid
from datetime import timedelta

from shared.errors import Conflict, InvalidInput
from shared.timeutil import utc_now

from ..domain import STAFF
from ..domain import appointments as booking
from ..domain import series as recurrence
from ..domain.appointments import Appointment
from ..domain.series import Series
from ..queries import records, views
from ..read_models import aware


class BookingCommands:
    def book_appointment(self, caller, command):
        principal = caller.principal
        principal.require_role(*STAFF)
        organisation_id, clinic_id = command["organisation_id"], command["clinic_id"]
        principal.require_clinic(organisation_id, clinic_id)
        with self.store.unit_of_work() as uow:
            uow.lock()  # the calendar read below cannot change before the save
            settings, room_ids = self._calendar_of(uow.conn, command)
            appointment = uow.get(Appointment, str(uuid.uuid4()))
            uow.save(appointment, caller.context(organisation_id, clinic_id), self._book(
                uow.conn, settings, room_ids, appointment.appointment_id, command["start"],
                command))
            record = records.appointment_row(uow.conn, appointment.appointment_id)
        return views.appointment(record, settings)

    def book_series(self, caller, command):
        principal = caller.principal
        principal.require_role(*STAFF)
        organisation_id, clinic_id = command["organisation_id"], command["clinic_id"]
        principal.require_clinic(organisation_id, clinic_id)
        context = caller.context(organisation_id, clinic_id)
        with self.store.unit_of_work() as uow:
            uow.lock()  # the calendar read below cannot change before the save
            settings, room_ids = self._calendar_of(uow.conn, command)
            series = uow.get(Series, str(uuid.uuid4()))
            starts = recurrence.occurrences(command["start"], settings.zone,
                                            command["frequency"], command.get("count"),
                                            command.get("until"))
            bookings = []
            for index, start in enumerate(starts):
                appointment = uow.get(Appointment,
                                      recurrence.occurrence_id(series.series_id, index))
                try:
                    bookings.append((appointment, self._book(
                        uow.conn, settings, room_ids, appointment.appointment_id, start,
                        command, series_id=series.series_id)))
                except Conflict as exc:
                    exc.message = (f"occurrence {index + 1} ({settings.local(start).isoformat()})"
                                   f": {exc.message}")
                    exc.args = (exc.message,)
                    raise
            uow.save(series, context, recurrence.book_series(
                series.series_id, str(command["client_id"]), command["clinician_id"], starts,
                command["duration_minutes"], command["modality"],
                command.get("session_type", booking.DEFAULT_SESSION_TYPE),
                command.get("room_id"), command["frequency"], command.get("count"),
                command.get("until"), settings.time_zone))
            for appointment, new_events in bookings:
                uow.save(appointment, context, new_events)
        return self.series(principal, series.series_id)

    def end_series(self, caller, series_id, command):
        principal = caller.principal
        principal.require_role(*STAFF)
        now = utc_now()
        effective_from = command.get("from_") or now
        cancelled_by = command.get("cancelled_by", "clinic")
        reason = command.get("reason") or "series ended"
        with self.store.unit_of_work() as uow:
            uow.lock()  # which occurrences are still open is read from the calendar
            record = principal.require_visible(records.series_row(uow.conn, series_id), "series")
            context = caller.context_of(record)
            series = uow.get(Series, series_id)
            uow.save(series, context,
                     recurrence.end_series(series, effective_from, reason, now))
            settings = records.clinic_settings(uow.conn, record["organisation_id"],
                                               record["clinic_id"])
            for row in records.series_appointments(uow.conn, series_id):
                if row["status"] not in booking.OPEN or aware(row["start"]) < effective_from:
                    continue
                self._cancel(uow, uow.get(Appointment, row["appointment_id"]), cancelled_by,
                             reason, now, settings, context)
        return self.series(principal, series_id)

    def reschedule_appointment(self, caller, appointment_id, command):
        caller.principal.require_role(*STAFF)
        with self.store.unit_of_work() as uow:
            uow.lock()  # the calendar read below cannot change before the save
            record, appointment = self._load_visible(uow, caller.principal, appointment_id)
            organisation_id = record["organisation_id"]
            settings = records.clinic_settings(uow.conn, organisation_id, record["clinic_id"])
            new_events = booking.reschedule(
                appointment, command["start"], command.get("duration_minutes"),
                command.get("room_id"), self._room_ids(uow.conn, organisation_id,
                                                       record["clinic_id"]),
                keep_room="room_id" not in command)
            data = new_events[0].data
            if self._outside_working_hours(uow.conn, organisation_id, settings,
                                           appointment.clinician_id, command["start"],
                                           data["duration_minutes"],
                                           command.get("override_working_hours", False)):
                data["outside_working_hours"] = True
            self._check_free(uow.conn, organisation_id, appointment.slot(
                command["start"], data["duration_minutes"], data["room_id"]))
            uow.save(appointment, caller.context_of(record), new_events)
            record = records.appointment_row(uow.conn, appointment_id)
        return views.appointment(record, settings)

    # -- what booking decides from ---------------------------------------------------
    def _load_visible(self, uow, principal, appointment_id):
        """(read-model row, Appointment) of an appointment the principal may reach."""
        record = principal.require_visible(
            records.appointment_row(uow.conn, appointment_id), "appointment")
        principal.require_own_record(record["client_id"])
        return record, uow.get(Appointment, str(appointment_id))

    def _calendar_of(self, conn, command):
        """(settings, room ids) of the clinic a booking is for, whose client it must be."""
        organisation_id, clinic_id = command["organisation_id"], command["clinic_id"]
        client_id = str(command["client_id"])
        client = records.client_row(conn, client_id)
        if client is None or (client["organisation_id"], client["clinic_id"]) \
                != (organisation_id, clinic_id):
            raise InvalidInput(f"client {client_id} is not a client of clinic {clinic_id}",
                               {"client_id": ["unknown client in this clinic"]})
        return (records.clinic_settings(conn, organisation_id, clinic_id),
                self._room_ids(conn, organisation_id, clinic_id))

    def _room_ids(self, conn, organisation_id, clinic_id):
        return {r["room_id"] for r in records.room_rows(conn, organisation_id, clinic_id)}

    def _book(self, conn, settings, room_ids, appointment_id, start, command, series_id=None):
        """AppointmentBooked at `start` as the command asks: inside the clinician's
        hours (or overridden), double-booking nobody."""
        organisation_id, duration = command["organisation_id"], command["duration_minutes"]
        new_events = booking.book(
            appointment_id, str(command["client_id"]), command["clinician_id"], start,
            duration, command["modality"],
            command.get("session_type", booking.DEFAULT_SESSION_TYPE), command.get("room_id"),
            settings, room_ids, series_id=series_id)
        data = new_events[0].data
        if self._outside_working_hours(conn, organisation_id, settings, data["clinician_id"],
                                       start, duration,
                                       command.get("override_working_hours", False)):
            data["outside_working_hours"] = True
        self._check_free(conn, organisation_id, booking.Slot(
            appointment_id, data["client_id"], data["clinician_id"], data["room_id"], start,
            start + timedelta(minutes=duration)))
        return new_events

    def _outside_working_hours(self, conn, organisation_id, settings, clinician_id, start,
                               duration_minutes, override):
        """False when the slot is inside the clinician's hours (or no profile was
        ever set); True when outside and explicitly overridden; else refused."""
        profile = records.clinician_profile(conn, organisation_id, clinician_id)
        if profile is None:
            return False
        if not profile.works_at(settings.clinic_id):
            raise InvalidInput(f"clinician {clinician_id} does not work at clinic "
                               f"{settings.clinic_id}",
                               {"clinician_id": ["not working at this clinic"]})
        end = start + timedelta(minutes=duration_minutes)
        if profile.within_hours(settings, start, end):
            return False
        if override:
            return True
        local = settings.local(start)
        raise Conflict(f"{local.strftime('%A %H:%M')} ({settings.time_zone}) is outside "
                       f"clinician {clinician_id}'s working hours; send "
                       f"override_working_hours: true to book it anyway",
                       {"start": ["outside the clinician's working hours"]})

    def _check_free(self, conn, organisation_id, slot):
        booking.check_free(slot, records.taken_slots(
            conn, organisation_id, slot.start, slot.end, slot.clinician_id, slot.client_id,
            slot.room_id))
