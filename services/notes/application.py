"""Notes' use cases: each command is one unit of work (events + read models)."""
import uuid

from sqlalchemy import select

from shared.application import Application
from shared.envelope import Context
from shared.timeutil import iso, utc_now

from . import domain
from .read_models import chart_assessments, chart_goals, chart_sessions, clients, projection

CHART_ROLES = ("admin", "clinician")


class NotesApplication(Application):
    service = "notes"
    projection = projection
    reactions = {}  # ClientRegistered, ClientAssessed, SessionHeld only feed read models

    def set_goal(self, principal, correlation_id, client_id, command):
        client_id = str(client_id)
        principal.require_role(*CHART_ROLES)
        with self.store.unit_of_work() as uow:
            record = principal.require_visible(self._client_row(uow.conn, client_id), "client")
            stream = domain.stream_of(client_id)
            plan = domain.TreatmentPlan.from_events(client_id, uow.load(stream))
            new_events = domain.set_goal(
                plan, str(uuid.uuid4()), command["description"], command["target_date"],
                command["instrument"], command["target_score"], principal.user_id,
                iso(utc_now()))
            context = Context(record["organisation_id"], record["clinic_id"], correlation_id,
                              actor=principal.user_id)
            (event,) = uow.append(stream, plan.version, context, new_events)
        return dict(event.data)

    # -- queries ---------------------------------------------------------
    def _client_row(self, conn, client_id):
        row = conn.execute(select(clients).where(clients.c.client_id == str(client_id))).first()
        return row._asdict() if row else None

    def chart(self, principal, client_id):
        """The client's goals, assessments and sessions held, each ordered by time.

        Rows carry their own envelope's tenancy: only rows of the client's
        organisation that the caller may see are shown.
        """
        principal.require_role(*CHART_ROLES)
        with self.store.read() as conn:
            record = principal.require_visible(self._client_row(conn, client_id), "client")

            def rows(table, *order):
                query = (select(table)
                         .where(table.c.client_id == record["client_id"],
                                table.c.organisation_id == record["organisation_id"])
                         .order_by(*order))
                clinics = principal.clinic_filter()
                if clinics is not None:
                    query = query.where(table.c.clinic_id.in_(clinics))
                return [r._asdict() for r in conn.execute(query)]

            goals = rows(chart_goals, chart_goals.c.set_at, chart_goals.c.goal_id)
            assessments = rows(chart_assessments, chart_assessments.c.assessed_at,
                               chart_assessments.c.assessment_id)
            sessions = rows(chart_sessions, chart_sessions.c.start,
                            chart_sessions.c.appointment_id)
        return {
            "client": {key: record[key] for key in
                       ("client_id", "name", "organisation_id", "clinic_id")},
            "goals": [_goal_view(r) for r in goals],
            "assessments": [_assessment_view(r) for r in assessments],
            "sessions": [_session_view(r) for r in sessions],
        }


def _goal_view(r):
    return {"goal_id": r["goal_id"], "description": r["description"],
            "target_date": r["target_date"].isoformat(), "instrument": r["instrument"],
            "target_score": r["target_score"], "set_by": r["set_by"], "set_at": iso(r["set_at"])}


def _assessment_view(r):
    return {"assessment_id": r["assessment_id"], "instrument": r["instrument"],
            "kind": r["kind"], "total": r["total"], "severity": r["severity"],
            "assessed_at": iso(r["assessed_at"])}


def _session_view(r):
    return {"appointment_id": r["appointment_id"], "clinician_id": r["clinician_id"],
            "start": iso(r["start"]), "minutes": r["minutes"], "modality": r["modality"],
            "session_number": r["session_number"]}
