"""Scheduling's use cases: each command is one unit of work (events + read models).

The reassessment cadence is decided in the same unit of work as the event that
can make it due (a SessionHeld appended here, a ClientAssessed consumed from
intake), from read models that unit of work has already updated.
"""
import uuid

from sqlalchemy import select

from shared.application import Application
from shared.envelope import Context
from shared.errors import ConcurrencyError, InvalidInput
from shared.store import events_table
from shared.timeutil import iso, utc_now

from . import domain
from . import read_models as models
from .read_models import appointments, projection


class SchedulingApplication(Application):
    service = "scheduling"
    projection = projection
    # ClientRegistered only changes a read model (read_models.py).
    reactions = {"ClientAssessed": "on_client_assessed"}

    def book_appointment(self, principal, correlation_id, command):
        principal.require_role("admin", "clinician", "front_desk")
        organisation_id, clinic_id = command["organisation_id"], command["clinic_id"]
        principal.require_clinic(organisation_id, clinic_id)
        appointment_id = str(uuid.uuid4())
        client_id = str(command["client_id"])
        new_events = domain.book(appointment_id, client_id, command["clinician_id"],
                                 command["start"], command["duration_minutes"],
                                 command["modality"])
        context = Context(organisation_id, clinic_id, correlation_id, actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            client = models.client_row(uow.conn, client_id)
            if client is None or (client["organisation_id"], client["clinic_id"]) \
                    != (organisation_id, clinic_id):
                raise InvalidInput(f"client {client_id} is not a client of clinic {clinic_id}",
                                   {"client_id": ["unknown client in this clinic"]})
            uow.append(domain.appointment_stream(appointment_id), 0, context, new_events)
            record = models.appointment_row(uow.conn, appointment_id)
        return _appointment_view(record)

    def hold_session(self, principal, correlation_id, appointment_id, command):
        appointment_id = str(appointment_id)
        principal.require_role("admin", "clinician", "front_desk")
        with self.store.unit_of_work() as uow:
            record = principal.require_visible(
                models.appointment_row(uow.conn, appointment_id), "appointment")
            stream = domain.appointment_stream(appointment_id)
            appointment = domain.Appointment.from_events(appointment_id, uow.load(stream))
            held_before = models.held_count(uow.conn, appointment.client_id)
            new_events = domain.hold(appointment, command["minutes"], held_before)
            context = Context(record["organisation_id"], record["clinic_id"], correlation_id,
                              actor=principal.user_id)
            (held,) = uow.append(stream, appointment.version, context, new_events)
            # Appends are serialised from here on: another of this client's
            # sessions held since we counted would make two share a number.
            if models.held_count(uow.conn, appointment.client_id) != held_before + 1:
                raise ConcurrencyError(f"another session of client {appointment.client_id} "
                                       "was held at the same time; retry")
            self._decide_reassessment(uow, appointment.client_id, Context.caused_by(held))
        return held.data

    def set_reassessment_policy(self, principal, correlation_id, clinic_id, command):
        principal.require_role("admin")
        principal.require_clinic(principal.organisation_id, clinic_id)
        new_events = domain.set_policy(command["every_sessions"])
        context = Context(principal.organisation_id, clinic_id, correlation_id,
                          actor=principal.user_id)
        stream = domain.clinic_stream(principal.organisation_id, clinic_id)
        with self.store.unit_of_work() as uow:
            uow.append(stream, uow.version(stream), context, new_events)
        return self.reassessment_policy(principal, clinic_id)

    # -- reactions -------------------------------------------------------
    def on_client_assessed(self, uow, event, context):
        """A (possibly late) assessment: the projection already kept it or ignored
        it; an assessment dated before sessions already held may make it due now."""
        self._decide_reassessment(uow, event.data["client_id"], context)

    def _decide_reassessment(self, uow, client_id, context):
        client_id = str(client_id)
        every_sessions = models.every_sessions(uow.conn, context.organisation_id,
                                               context.clinic_id)
        cadence = models.cadence(uow.conn, client_id)
        new_events = cadence.decide(every_sessions, utc_now())
        if not new_events:
            return []
        stream = domain.reassessment_stream(client_id)
        try:
            return uow.append(stream, uow.version(stream), context, new_events)
        except ConcurrencyError:
            # The deterministic id is already stored: this cycle was flagged.
            if uow.conn.execute(select(events_table.c.position).where(
                    events_table.c.event_id == new_events[0].id)).first() is not None:
                return []
            raise

    # -- queries ---------------------------------------------------------
    def appointment(self, principal, appointment_id):
        with self.store.read() as conn:
            record = models.appointment_row(conn, str(appointment_id))
        return _appointment_view(principal.require_visible(record, "appointment"))

    def client_appointments(self, principal, client_id):
        client_id = str(client_id)
        with self.store.read() as conn:
            client = principal.require_visible(models.client_row(conn, client_id), "client")
            rows = conn.execute(select(appointments)
                                .where(appointments.c.client_id == client_id)
                                .order_by(appointments.c.start,
                                          appointments.c.appointment_id)).all()
            every_sessions = models.every_sessions(conn, client["organisation_id"],
                                                   client["clinic_id"])
            cadence = models.cadence(conn, client_id)
        return {
            "client_id": client_id,
            "appointments": [_appointment_view(r._asdict()) for r in rows],
            "reassessment": {
                "every_sessions": every_sessions,
                "last_assessment_id": cadence.last_assessment_id,
                "last_assessed_at": iso(cadence.last_assessed_at)
                if cadence.last_assessed_at else None,
                "sessions_since_assessment": cadence.sessions_since_assessment,
                "due": cadence.is_due(every_sessions)},
        }

    def reassessment_policy(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            every_sessions = models.every_sessions(conn, principal.organisation_id, clinic_id)
        return {"organisation_id": principal.organisation_id, "clinic_id": clinic_id,
                "every_sessions": every_sessions}


def _appointment_view(record):
    return {"appointment_id": record["appointment_id"],
            "organisation_id": record["organisation_id"], "clinic_id": record["clinic_id"],
            "client_id": record["client_id"], "clinician_id": record["clinician_id"],
            "start": iso(record["start"]), "duration_minutes": record["duration_minutes"],
            "modality": record["modality"], "status": record["status"],
            "minutes": record["minutes"], "session_number": record["session_number"],
            "held_at": iso(record["held_at"]) if record["held_at"] else None}
