"""The reassessment cadence: latest assessments, policies, cycles already due."""
from sqlalchemy import Column, DateTime, Integer, String, Table, select

from shared.projection import upsert
from shared.timeutil import parse_time

from ..domain import cadence as rules
from .base import aware, metadata, projection

CLINIC_WIDE = ""  # reassessment_policies.client_id of a clinic's own policy

# The newest assessment intake told us about, per client (late older ones ignored).
latest_assessments = Table(
    "latest_assessments", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("assessment_id", String(36), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
)

reassessment_policies = Table(
    "reassessment_policies", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("client_id", String(36), primary_key=True),  # CLINIC_WIDE for the clinic's
    Column("every_sessions", Integer),
    Column("every_days", Integer),
)

# One row per cadence cycle that emitted ReassessmentDue.
reassessment_cycles = Table(
    "reassessment_cycles", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("cycle", String(36), primary_key=True),  # rules.cycle_key(last_assessment_id)
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("event_id", String(36), nullable=False),
    Column("last_assessment_id", String(36)),
    Column("sessions_since_assessment", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("due_by", String(20)),
    Column("reason", String(500), nullable=False),
)


@projection.on("ClientAssessed")
def client_assessed(conn, event):
    data = event.data
    assessed_at = parse_time(data["assessed_at"])
    held = conn.execute(select(latest_assessments.c.assessed_at)
                        .where(latest_assessments.c.client_id == data["client_id"])).first()
    if held is None or rules.supersedes(aware(held.assessed_at), assessed_at):
        upsert(conn, latest_assessments, {"client_id": data["client_id"]},
               {"assessment_id": data["assessment_id"], "assessed_at": assessed_at})


@projection.on("ReassessmentPolicySet")
def policy_set(conn, event):
    data = event.data
    upsert(conn, reassessment_policies, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "client_id": data.get("client_id") or CLINIC_WIDE},
        {"every_sessions": data.get("every_sessions"), "every_days": data.get("every_days")})


@projection.on("ReassessmentDue")
def reassessment_due(conn, event):
    data = event.data
    upsert(conn, reassessment_cycles, {
        "client_id": data["client_id"], "cycle": rules.cycle_key(data["last_assessment_id"])}, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "event_id": event.id, "last_assessment_id": data["last_assessment_id"],
        "sessions_since_assessment": data["sessions_since_assessment"],
        "due_at": parse_time(data["due_at"]), "due_by": data.get("due_by"),
        "reason": data["reason"]})
