"""The approach each client's treatment plan names, from notes' TreatmentApproachSet:
intake breaks the clinic's outcomes down by it. Codes only (notes keeps the free text)."""
from sqlalchemy import Column, DateTime, String, Table, Text

from shared.projection import upsert
from shared.timeutil import parse_time

from . import metadata, projection

client_approaches = Table(
    "client_approaches", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("approaches", Text, nullable=False),  # comma-separated codes, as the plan says now
    Column("set_at", DateTime(timezone=True), nullable=False),
)


@projection.on("TreatmentApproachSet")
def treatment_approach_set(conn, event):
    data = event.data
    upsert(conn, client_approaches, {"client_id": data["client_id"]}, dict(
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        approaches=",".join(data["approaches"]), set_at=parse_time(data["set_at"])))
