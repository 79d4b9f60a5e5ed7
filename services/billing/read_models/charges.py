"""Charges: sessions held, fees (late cancels, no-shows, instruments), add-ons, and
whether each is held for its note or ready to bill."""
import json

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, Text, insert, \
    select, update

from shared.timeutil import parse_date, parse_time

from .base import Money, metadata, projection, tenant
from .ledger import bill

charges = Table(
    "charges", metadata,
    Column("charge_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # session, late_cancel, no_show, assessment
    Column("appointment_id", String(36), index=True),
    Column("assessment_id", String(36)),
    Column("client_id", String(36), nullable=False, index=True),
    Column("clinician_id", String(64)),
    *tenant(),
    Column("service_date", Date, nullable=False),
    Column("minutes", Integer),
    Column("code", String(16)),
    Column("billable", Boolean, nullable=False),
    Column("reason", String(300)),
    Column("amount_minor", Money, nullable=False),
    Column("currency", String(3)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("session_type", String(16)),
    Column("modality", String(16)),
    Column("place_of_service", String(4)),
    Column("episode_id", String(36)),
    Column("lines", Text, nullable=False),  # JSON list of {code, units, modifiers, ...}
    Column("full_amount_minor", Money, nullable=False),
    Column("sliding_scale_percent", Integer, nullable=False),
    Column("payer_kind", String(16)),
    Column("status", String(8), nullable=False),  # held, ready
    Column("hold_reason", String(300)),
    Column("invoice_id", String(36), index=True),
)


def charge_row(conn, charge_id):
    return conn.execute(select(charges).where(charges.c.charge_id == charge_id)).first()


def describe(row):
    if row.kind == "session":
        return f"{row.session_type or 'individual'} session {row.code}"
    if row.kind == "assessment":
        return f"standardized instrument {row.code}"
    return {"late_cancel": "late-cancellation fee", "no_show": "no-show fee"}[row.kind]



@projection.on("ChargeRecorded")
def charge_recorded(conn, event):
    data = event.data
    status = data.get("status", "ready")
    # Values as parameters: the statement is compiled once, not built per event.
    conn.execute(insert(charges), dict(
        charge_id=data["charge_id"], kind="session", appointment_id=data["appointment_id"],
        assessment_id=None, client_id=data["client_id"], clinician_id=data["clinician_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        service_date=parse_date(data["service_date"]), minutes=data["minutes"],
        code=data["code"], billable=data["billable"], reason=data["reason"],
        amount_minor=data["amount_minor"], currency=data["currency"],
        recorded_at=parse_time(event.time), session_type=data.get("session_type"),
        modality=data.get("modality"), place_of_service=data.get("place_of_service"),
        episode_id=data.get("episode_id"),
        lines=json.dumps(data.get("lines", []), sort_keys=True),
        full_amount_minor=data.get("full_amount_minor", data["amount_minor"]),
        sliding_scale_percent=data.get("sliding_scale_percent", 0),
        payer_kind=data.get("payer_kind"), status=status, hold_reason=data.get("hold_reason"),
        invoice_id=None))
    if data["billable"] and status == "ready":
        row = charge_row(conn, data["charge_id"])
        bill(conn, event, row, row.amount_minor, 1, f"charge-{row.charge_id}", describe(row))


@projection.on("FeeCharged")
def fee_charged(conn, event):
    data = event.data
    # Values as parameters: the statement is compiled once, not built per event.
    conn.execute(insert(charges), dict(
        charge_id=data["charge_id"], kind=data["kind"], appointment_id=data.get("appointment_id"),
        assessment_id=data.get("assessment_id"), client_id=data["client_id"],
        clinician_id=data.get("clinician_id"), organisation_id=event.organisationid,
        clinic_id=event.clinicid, service_date=parse_date(data["service_date"]), minutes=None,
        code=data["code"], billable=data["billable"], reason=data["reason"],
        amount_minor=data["amount_minor"], currency=data["currency"],
        recorded_at=parse_time(event.time), lines=json.dumps(
            [{"code": data["code"], "units": data["units"], "modifiers": [],
              "fee_minor": data["amount_minor"], "amount_minor": data["amount_minor"]}]
            if data["billable"] else [], sort_keys=True),
        full_amount_minor=data["amount_minor"], sliding_scale_percent=0, status="ready",
        invoice_id=None))
    if data["billable"]:
        row = charge_row(conn, data["charge_id"])
        bill(conn, event, row, row.amount_minor, 1, f"charge-{row.charge_id}", describe(row))


@projection.on("ChargeReleased")
def charge_released(conn, event):
    row = charge_row(conn, event.data["charge_id"])
    conn.execute(update(charges).where(charges.c.charge_id == row.charge_id)
                 .values(status="ready", hold_reason=None))
    bill(conn, event, row, row.amount_minor, 1, f"charge-{row.charge_id}", describe(row))


@projection.on("ChargeAddOnAdded")
def charge_add_on(conn, event):
    data = event.data
    row = charge_row(conn, data["charge_id"])
    line = data["line"]
    conn.execute(update(charges).where(charges.c.charge_id == row.charge_id).values(
        amount_minor=data["amount_minor"],
        full_amount_minor=row.full_amount_minor + line["fee_minor"],
        lines=json.dumps(json.loads(row.lines) + [line], sort_keys=True)))
    if row.status == "ready":
        bill(conn, event, row, line["amount_minor"], 0, f"add-on-{event.id}",
             f"add-on {line['code']} to {row.code}")

