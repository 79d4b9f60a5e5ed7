"""The client and what other services tell notes about them: assessments, sessions.

Foreign events may arrive in any order (a SessionHeld before the client's
ClientRegistered), so chart rows are keyed by client_id alone and carry the
tenancy of their own envelope; the chart joins them to `clients` when read.
Every handler upserts its row by id, so applying an event twice is harmless.
A row keeps the tenancy of the event that made it: an event of another
organisation or clinic naming the same client, assessment or appointment id
never changes it.
"""
from sqlalchemy import Column, DateTime, Integer, String, Table, select

from shared import client_history
from shared.timeutil import parse_time

from shared.projection import upsert

from .base import metadata, projection, tenancy

clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
)

# intake's ClientRegistered / ClientDetailsUpdated, folded in intake's order, not arrival
client_facts = client_history.facts_table(metadata, "client_facts")

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


def _own_upsert(conn, table, key, event, values):
    """Upsert the row by its id, unless a row of that id belongs to another tenant: an
    id sent again by another organisation or clinic never moves the stored record."""
    stored = conn.execute(select(table.c.organisation_id, table.c.clinic_id).where(
        *[table.c[name] == value for name, value in key.items()])).first()
    if stored is not None and tuple(stored) != (event.organisationid, event.clinicid):
        return
    upsert(conn, table, key, {**values, **tenancy(event)})


@projection.on("ClientRegistered", "ClientDetailsUpdated")
def client_details(conn, event):
    # An update before its registration is kept and counts once the registration is in.
    org, clinic, client_id = client_history.record(conn, client_facts, event)
    details = client_history.latest(conn, client_facts, org, clinic, client_id)
    if details is not None and isinstance(details.get("name"), str) and details["name"]:
        _own_upsert(conn, clients, {"client_id": client_id}, event,
                    dict(name=details["name"]))


@projection.on("ClientAssessed")
def client_assessed(conn, event):
    data = event.data
    _own_upsert(conn, chart_assessments, {"assessment_id": data["assessment_id"]}, event, dict(
        client_id=data["client_id"],
        instrument=data["instrument"], kind=data["kind"], total=data["total"],
        severity=data["severity"], assessed_at=parse_time(data["assessed_at"])))


@projection.on("SessionHeld")
def session_held(conn, event):
    data = event.data
    _own_upsert(conn, chart_sessions, {"appointment_id": data["appointment_id"]}, event, dict(
        client_id=data["client_id"],
        clinician_id=data["clinician_id"], start=parse_time(data["start"]),
        minutes=data["minutes"], modality=data["modality"],
        session_number=data["session_number"]))
