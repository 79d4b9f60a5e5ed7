"""intake's alliance concerns, for the clinician's notes-due view: open from
AllianceConcernFlagged until AllianceConcernAcknowledged. Keyed by the flag id;
the view joins them to the rated session (chart_sessions) for its clinician."""
from sqlalchemy import Column, DateTime, Integer, String, Table

from shared.projection import upsert
from shared.timeutil import parse_time

from .base import metadata, projection, tenancy

alliance_concerns = Table(
    "alliance_concerns", metadata,
    Column("flag_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("session_id", String(36), nullable=False),
    Column("instrument", String(40), nullable=False),
    Column("total", Integer, nullable=False),
    Column("rules", String(100), nullable=False),  # comma-separated
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
)


@projection.on("AllianceConcernFlagged")
def alliance_concern_flagged(conn, event):
    data = event.data
    upsert(conn, alliance_concerns, {"flag_id": str(data["flag_id"])}, {
        "client_id": str(data["client_id"]), "session_id": str(data["session_id"]),
        "instrument": data["instrument"], "total": data["total"],
        "rules": ",".join(data["rules"]), "flagged_at": parse_time(data["flagged_at"]),
        **tenancy(event)})


@projection.on("AllianceConcernAcknowledged")
def alliance_concern_acknowledged(conn, event):
    # Acknowledged only ever after it was flagged (one stream in intake, in order).
    conn.execute(alliance_concerns.update()
                 .where(alliance_concerns.c.flag_id == str(event.data["flag_id"]),
                        alliance_concerns.c.organisation_id == event.organisationid)
                 .values(acknowledged_at=parse_time(event.data["acknowledged_at"])))
