"""Notes' read models: tables derived only from events (see shared.projection.rebuild).

Foreign events may arrive in any order (a SessionHeld before the client's
ClientRegistered), so chart rows are keyed by client_id alone and carry the
tenancy of their own envelope; the chart joins them to `clients` when read.
Every handler replaces its row by id, so applying an event twice is harmless.
"""
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, Text, \
    delete, insert

from shared.projection import Projection
from shared.timeutil import parse_date, parse_time

metadata = MetaData()

clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
)

chart_goals = Table(
    "chart_goals", metadata,
    Column("goal_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("target_date", Date, nullable=False),
    Column("instrument", String(40)),
    Column("target_score", Integer),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

chart_assessments = Table(
    "chart_assessments", metadata,
    Column("assessment_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("instrument", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("total", Integer, nullable=False),
    Column("severity", String(40), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
)

chart_sessions = Table(
    "chart_sessions", metadata,
    Column("appointment_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("clinician_id", String(200), nullable=False),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("modality", String(20), nullable=False),
    Column("session_number", Integer, nullable=False),
)

projection = Projection(metadata)


def _replace(conn, table, key, values):
    column = table.c[key]
    conn.execute(delete(table).where(column == values[key]))
    conn.execute(insert(table).values(**values))


@projection.on("ClientRegistered")
def client_registered(conn, event):
    data = event.data
    _replace(conn, clients, "client_id", dict(
        client_id=data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, name=data["name"]))


@projection.on("ClientAssessed")
def client_assessed(conn, event):
    data = event.data
    _replace(conn, chart_assessments, "assessment_id", dict(
        assessment_id=data["assessment_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        instrument=data["instrument"], kind=data["kind"], total=data["total"],
        severity=data["severity"], assessed_at=parse_time(data["assessed_at"])))


@projection.on("SessionHeld")
def session_held(conn, event):
    data = event.data
    _replace(conn, chart_sessions, "appointment_id", dict(
        appointment_id=data["appointment_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        clinician_id=data["clinician_id"], start=parse_time(data["start"]),
        minutes=data["minutes"], modality=data["modality"],
        session_number=data["session_number"]))


@projection.on("GoalSet")
def goal_set(conn, event):
    data = event.data
    _replace(conn, chart_goals, "goal_id", dict(
        goal_id=data["goal_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        description=data["description"], target_date=parse_date(data["target_date"]),
        instrument=data["instrument"], target_score=data["target_score"],
        set_by=data["set_by"], set_at=parse_time(data["set_at"])))
