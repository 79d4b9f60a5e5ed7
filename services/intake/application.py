"""Intake's use cases: each command is one unit of work (events + read models)."""
import json
import uuid

from sqlalchemy import select

from shared.application import Application
from shared.envelope import Context
from shared.timeutil import iso, utc_now

from . import domain
from .read_models import assessments, clients, pending_reassessments, projection


class IntakeApplication(Application):
    service = "intake"
    projection = projection
    reactions = {}  # ReassessmentDue only changes a read model (read_models.py)

    def register_client(self, principal, correlation_id, command):
        principal.require_role("admin", "clinician", "front_desk")
        principal.require_clinic(command["organisation_id"], command["clinic_id"])
        client_id = str(uuid.uuid4())
        context = Context(command["organisation_id"], command["clinic_id"], correlation_id,
                          actor=principal.user_id)
        new_events = domain.register(
            client_id, command["name"], command["date_of_birth"].isoformat(),
            dict(command["contact"]), iso(utc_now()))
        with self.store.unit_of_work() as uow:
            uow.append(domain.stream_of(client_id), 0, context, new_events)
        return {"client_id": client_id}

    def assess_client(self, principal, correlation_id, client_id, command):
        client_id = str(client_id)
        principal.require_role("admin", "clinician")
        with self.store.unit_of_work() as uow:
            record = self._client_row(uow.conn, client_id)
            principal.require_visible(record, "client")
            stream = domain.stream_of(client_id)
            client = domain.Client.from_events(client_id, uow.load(stream))
            assessed_at = command["assessed_at"] or utc_now()
            new_events = domain.assess(client, str(uuid.uuid4()), command["instrument"],
                                       command["answers"], iso(assessed_at))
            context = Context(record["organisation_id"], record["clinic_id"], correlation_id,
                              actor=principal.user_id)
            (event,) = uow.append(stream, client.version, context, new_events)
        return {key: event.data[key] for key in
                ("assessment_id", "instrument", "kind", "total", "severity", "assessed_at")}

    # -- queries ---------------------------------------------------------
    def _client_row(self, conn, client_id):
        row = conn.execute(select(clients).where(clients.c.client_id == str(client_id))).first()
        return row._asdict() if row else None

    def client(self, principal, client_id):
        with self.store.read() as conn:
            record = principal.require_visible(self._client_row(conn, client_id), "client")
            rows = conn.execute(select(assessments)
                                .where(assessments.c.client_id == record["client_id"])
                                .order_by(assessments.c.assessed_at)).all()
        return {**_client_view(record),
                "assessments": [_assessment_view(r._asdict()) for r in rows]}

    def directory(self, principal, query):
        principal.require_clinic(principal.organisation_id, query["clinic_id"])
        statement = (select(clients)
                     .where(clients.c.organisation_id == principal.organisation_id,
                            clients.c.clinic_id == query["clinic_id"])
                     .order_by(clients.c.name, clients.c.client_id)
                     .limit(query["limit"]).offset(query["offset"]))
        if query["name"]:
            statement = statement.where(clients.c.name.ilike(f"%{query['name']}%"))
        with self.store.read() as conn:
            rows = conn.execute(statement).all()
        return {"clients": [_client_view(r._asdict()) for r in rows]}

    def pending_reassessments(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            rows = conn.execute(
                select(pending_reassessments)
                .where(pending_reassessments.c.organisation_id == principal.organisation_id,
                       pending_reassessments.c.clinic_id == clinic_id)
                .order_by(pending_reassessments.c.due_at)).all()
        return {"pending": [{
            "client_id": r.client_id, "due_at": iso(r.due_at), "reason": r.reason,
            "sessions_since_assessment": r.sessions_since_assessment,
            "last_assessment_id": r.last_assessment_id} for r in rows]}


def _client_view(record):
    return {"client_id": record["client_id"], "organisation_id": record["organisation_id"],
            "clinic_id": record["clinic_id"], "name": record["name"],
            "date_of_birth": record["date_of_birth"].isoformat(),
            "contact": {"email": record["email"], "phone": record["phone"]},
            "registered_at": iso(record["registered_at"])}


def _assessment_view(record):
    return {"assessment_id": record["assessment_id"], "instrument": record["instrument"],
            "kind": record["kind"], "answers": json.loads(record["answers"]),
            "total": record["total"], "severity": record["severity"],
            "assessed_at": iso(record["assessed_at"])}
