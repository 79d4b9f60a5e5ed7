"""An appointment, a series, a client's appointments."""
from sqlalchemy import select

from shared import paging
from shared.timeutil import iso, utc_now

from ..domain import appointments as booking
from ..domain.cadence import Cadence
from ..read_models.calendar import appointments
from . import records, views


class AppointmentQueries:
    def appointment(self, principal, appointment_id):
        with self.store.read() as conn:
            record = principal.require_visible(
                records.appointment_row(conn, str(appointment_id)), "appointment")
            principal.require_own_record(record["client_id"])
            settings = records.clinic_settings(conn, record["organisation_id"],
                                               record["clinic_id"])
        return views.appointment(record, settings)

    def series(self, principal, series_id):
        with self.store.read() as conn:
            record = principal.require_visible(records.series_row(conn, series_id), "series")
            settings = records.clinic_settings(conn, record["organisation_id"],
                                               record["clinic_id"])
            occurrences = records.series_appointments(conn, series_id)
        return views.series(record, occurrences, settings)

    def client_appointments(self, principal, client_id, query, upcoming_only=False, now=None):
        client_id = str(client_id)
        principal.require_own_record(client_id)
        with self.store.read() as conn:
            client = principal.require_visible(records.client_row(conn, client_id), "client")
            org, clinic = client["organisation_id"], client["clinic_id"]
            # The client's appointments in the stored organisation, at clinics the
            # token sees: nothing the caller sends widens it.
            statement = select(appointments).where(appointments.c.client_id == client_id,
                                                   appointments.c.organisation_id == org)
            if principal.clinic_filter() is not None:
                statement = statement.where(
                    appointments.c.clinic_id.in_(principal.clinic_filter()))
            if upcoming_only:
                statement = statement.where(appointments.c.end > (now or utc_now()),
                                            appointments.c.status.in_(booking.OPEN))
            rows = paging.fetch_page(conn, statement.order_by(
                appointments.c.start, appointments.c.appointment_id), query)
            settings = records.clinic_settings(conn, org, clinic)
            policy = records.effective_policy(conn, org, clinic, client_id)
            cadence = records.with_facts(conn, Cadence.new(client_id))
            episode_id = records.open_episode_id(conn, client_id)
        result = paging.offset_page(
            "appointments", [views.appointment(r._asdict(), settings) for r in rows],
            query["limit"], query["offset"], client_id=client_id,
            time_zone=settings.time_zone, episode_id=episode_id)
        if not upcoming_only:
            due = cadence.due(policy, now or utc_now())
            result["reassessment"] = {
                "every_sessions": policy.every_sessions, "every_days": policy.every_days,
                "last_assessment_id": cadence.last_assessment_id,
                "last_assessed_at": iso(cadence.last_assessed_at)
                if cadence.last_assessed_at else None,
                "sessions_since_assessment": cadence.sessions_since_assessment,
                "due": due is not None, "due_at": iso(due[0]) if due else None}
        return result
