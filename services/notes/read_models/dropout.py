"""intake's dropout risks (an alliance concern with missed sessions), for the notes-due
view of the clinicians who held the client's sessions: open from DropoutRiskFlagged
until DropoutRiskAcknowledged."""
from sqlalchemy import Column, DateTime, Integer, String, Table

from shared.projection import upsert
from shared.timeutil import parse_time

from .base import metadata, projection, tenancy

dropout_risks = Table(
    "dropout_risks", metadata,
    Column("flag_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("late_cancels", Integer, nullable=False),
    Column("no_shows", Integer, nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
)


@projection.on("DropoutRiskFlagged")
def dropout_risk_flagged(conn, event):
    data = event.data
    upsert(conn, dropout_risks, {"flag_id": str(data["flag_id"])}, {
        "client_id": str(data["client_id"]), "late_cancels": data["late_cancels"],
        "no_shows": data["no_shows"], "flagged_at": parse_time(data["flagged_at"]),
        **tenancy(event)})


@projection.on("DropoutRiskAcknowledged")
def dropout_risk_acknowledged(conn, event):
    conn.execute(dropout_risks.update()
                 .where(dropout_risks.c.flag_id == str(event.data["flag_id"]),
                        dropout_risks.c.organisation_id == event.organisationid)
                 .values(acknowledged_at=parse_time(event.data["acknowledged_at"])))
