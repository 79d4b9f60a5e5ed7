"""The dropout-risk rule's read side: each clinic's rule (from AllianceSettingsSet),
the sessions each client missed (scheduling's late cancellations by the client and
no-shows) and the clinic's dropout-risk flags, open until acknowledged."""
from sqlalchemy import Column, DateTime, Integer, String, Table, Text, update

from shared.projection import upsert
from shared.timeutil import parse_time

from ..domain.dropout import LATE_CANCEL, NO_SHOW, DropoutRiskRule
from . import metadata, projection

dropout_rules = Table(
    "dropout_rules", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("misses", Integer),  # null: off
    Column("window_days", Integer, nullable=False),
)

missed_sessions = Table(
    "missed_sessions", metadata,
    Column("appointment_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # late_cancel, no_show
    # When scheduling recorded it (cancelled_at, a no-show's recorded_at): the window
    # counts misses as they become known.
    Column("missed_at", DateTime(timezone=True), nullable=False),
)

dropout_risks = Table(
    "dropout_risks", metadata,
    Column("flag_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("late_cancels", Integer, nullable=False),
    Column("no_shows", Integer, nullable=False),
    Column("window_days", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(64)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("action_taken", Text),
)


@projection.on("AllianceSettingsSet")
def dropout_rule_set(conn, event):
    rule = DropoutRiskRule.of_settings(event.data)
    upsert(conn, dropout_rules,
           {"organisation_id": event.organisationid, "clinic_id": event.clinicid},
           {"misses": rule.misses, "window_days": rule.window_days})


def _missed(conn, event, kind, at):
    data = event.data
    upsert(conn, missed_sessions, {"appointment_id": data["appointment_id"]}, dict(
        client_id=data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, kind=kind, missed_at=parse_time(at)))


@projection.on("AppointmentCancelled")
def appointment_cancelled(conn, event):
    # A late cancellation by the client is a missed session; the clinic's are not.
    if event.data["late"] and event.data["cancelled_by"] == "client":
        _missed(conn, event, LATE_CANCEL, event.data["cancelled_at"])


@projection.on("AppointmentNoShow")
def appointment_no_show(conn, event):
    _missed(conn, event, NO_SHOW, event.data["recorded_at"])


@projection.on("DropoutRiskFlagged")
def dropout_risk_flagged(conn, event):
    data = event.data
    upsert(conn, dropout_risks, {"flag_id": data["flag_id"]}, dict(
        client_id=data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, late_cancels=data["late_cancels"],
        no_shows=data["no_shows"], window_days=data["window_days"], reason=data["reason"],
        flagged_at=parse_time(data["flagged_at"])))


@projection.on("DropoutRiskAcknowledged")
def dropout_risk_acknowledged(conn, event):
    data = event.data
    conn.execute(update(dropout_risks).where(dropout_risks.c.flag_id == data["flag_id"])
                 .values(acknowledged_by=data["acknowledged_by"],
                         acknowledged_at=parse_time(data["acknowledged_at"]),
                         action_taken=data["action_taken"]))
