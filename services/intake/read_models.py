"""Intake's read models: tables derived only from events (see `make rebuild`)."""
import json

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, Text, \
    delete, insert, select

from shared.projection import Projection
from shared.timeutil import parse_date, parse_time

metadata = MetaData()

clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("email", String(200)),
    Column("phone", String(40)),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

assessments = Table(
    "assessments", metadata,
    Column("assessment_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("instrument", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("answers", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("severity", String(40), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
)

# A client appears here from ReassessmentDue until their next assessment.
pending_reassessments = Table(
    "pending_reassessments", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("sessions_since_assessment", Integer, nullable=False),
    Column("last_assessment_id", String(36)),
)

projection = Projection(metadata)


@projection.on("ClientRegistered")
def client_registered(conn, event):
    data = event.data
    conn.execute(insert(clients).values(
        client_id=data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, name=data["name"],
        date_of_birth=parse_date(data["date_of_birth"]),
        email=data["contact"].get("email"), phone=data["contact"].get("phone"),
        registered_at=parse_time(data["registered_at"])))


@projection.on("ClientAssessed")
def client_assessed(conn, event):
    data = event.data
    conn.execute(insert(assessments).values(
        assessment_id=data["assessment_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        instrument=data["instrument"], kind=data["kind"], answers=json.dumps(data["answers"]),
        total=data["total"], severity=data["severity"],
        assessed_at=parse_time(data["assessed_at"])))
    conn.execute(delete(pending_reassessments)
                 .where(pending_reassessments.c.client_id == data["client_id"]))


@projection.on("ReassessmentDue")
def reassessment_due(conn, event):
    data = event.data
    latest = conn.execute(
        select(assessments.c.assessment_id).where(assessments.c.client_id == data["client_id"])
        .order_by(assessments.c.assessed_at.desc()).limit(1)).scalar()
    if latest is not None and latest != data["last_assessment_id"]:
        return  # arrived after a newer assessment closed that cycle
    conn.execute(delete(pending_reassessments)
                 .where(pending_reassessments.c.client_id == data["client_id"]))
    conn.execute(insert(pending_reassessments).values(
        client_id=data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, due_at=parse_time(data["due_at"]), reason=data["reason"],
        sessions_since_assessment=data["sessions_since_assessment"],
        last_assessment_id=data["last_assessment_id"]))
