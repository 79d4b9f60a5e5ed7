"""Billing's read models: tables derived only from events (see `make rebuild`)."""
import json

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, \
    String, Table, Text, and_, delete, insert, select, update

from shared.projection import Projection
from shared.timeutil import parse_date, parse_time

metadata = MetaData()

Money = BigInteger().with_variant(Integer, "sqlite")

fee_schedules = Table(
    "fee_schedules", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("prices", Text, nullable=False),  # JSON {code: minor units}, sorted keys
    Column("version", Integer, nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

charges = Table(
    "charges", metadata,
    Column("charge_id", String(36), primary_key=True),
    Column("appointment_id", String(36), nullable=False, unique=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("clinician_id", String(64), nullable=False),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("service_date", Date, nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("code", String(16)),
    Column("billable", Boolean, nullable=False),
    Column("reason", String(300)),
    Column("amount_minor", Money, nullable=False),
    Column("currency", String(3)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# Sum of a client's billable charges, per clinic and currency (never mixed).
client_balances = Table(
    "client_balances", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("balance_minor", Money, nullable=False),
    Column("charges", Integer, nullable=False),
)

projection = Projection(metadata)


@projection.on("FeeScheduleSet")
def fee_schedule_set(conn, event):
    key = and_(fee_schedules.c.organisation_id == event.organisationid,
               fee_schedules.c.clinic_id == event.clinicid)
    conn.execute(delete(fee_schedules).where(key))
    conn.execute(insert(fee_schedules).values(
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        currency=event.data["currency"],
        prices=json.dumps(event.data["prices"], sort_keys=True),
        version=event.sequence, set_at=parse_time(event.time)))


@projection.on("ChargeRecorded")
def charge_recorded(conn, event):
    data = event.data
    conn.execute(insert(charges).values(
        charge_id=data["charge_id"], appointment_id=data["appointment_id"],
        client_id=data["client_id"], clinician_id=data["clinician_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        service_date=parse_date(data["service_date"]), minutes=data["minutes"],
        code=data["code"], billable=data["billable"], reason=data["reason"],
        amount_minor=data["amount_minor"], currency=data["currency"],
        recorded_at=parse_time(event.time)))
    if not data["billable"]:
        return
    key = and_(client_balances.c.client_id == data["client_id"],
               client_balances.c.organisation_id == event.organisationid,
               client_balances.c.clinic_id == event.clinicid,
               client_balances.c.currency == data["currency"])
    found = conn.execute(select(client_balances.c.balance_minor).where(key)).first()
    if found is None:
        conn.execute(insert(client_balances).values(
            client_id=data["client_id"], organisation_id=event.organisationid,
            clinic_id=event.clinicid, currency=data["currency"],
            balance_minor=data["amount_minor"], charges=1))
    else:
        conn.execute(update(client_balances).where(key).values(
            balance_minor=client_balances.c.balance_minor + data["amount_minor"],
            charges=client_balances.c.charges + 1))
