"""Calendar feeds: which clinician's .ics a secret opens, until when. The secret
itself is never stored, only its SHA-256."""
import json

from sqlalchemy import Column, DateTime, String, Table, Text, update

from shared.projection import upsert
from shared.timeutil import parse_time

from .base import metadata, projection

calendar_feeds = Table(
    "calendar_feeds", metadata,
    Column("feed_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),   # the issuing event's clinic
    Column("clinician_id", String(64), nullable=False, index=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("clinic_ids", Text, nullable=False),        # JSON: the clinics the feed shows
    Column("issued_by", String(64), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_by", String(64)),
    Column("revoked_at", DateTime(timezone=True)),
)


@projection.on("CalendarFeedIssued")
def feed_issued(conn, event):
    data = event.data
    upsert(conn, calendar_feeds, {"feed_id": data["feed_id"]}, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "clinician_id": data["clinician_id"], "token_sha256": data["token_sha256"],
        "clinic_ids": json.dumps(data["clinic_ids"]), "issued_by": data["issued_by"],
        "issued_at": parse_time(data["issued_at"]),
        "expires_at": parse_time(data["expires_at"])})


@projection.on("CalendarFeedRevoked")
def feed_revoked(conn, event):
    data = event.data
    conn.execute(update(calendar_feeds).where(calendar_feeds.c.feed_id == data["feed_id"])
                 .values(revoked_by=data["revoked_by"],
                         revoked_at=parse_time(data["revoked_at"])))
