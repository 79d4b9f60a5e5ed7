"""What clients owe and pay, as every money event changes it: balances per clinic
and currency, the ledger, revenue by month of service, collections by month."""
from sqlalchemy import Column, Date, DateTime, Integer, String, Table, insert

from shared.timeutil import parse_date, parse_time

from .base import Money, add, metadata, month_of, tenant

# What a client owes per clinic and currency (never mixed); negative: in credit.
client_balances = Table(
    "client_balances", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("balance_minor", Money, nullable=False),
    Column("charges", Integer, nullable=False),
    Column("charged_minor", Money, nullable=False),
    Column("paid_minor", Money, nullable=False),
    Column("refunded_minor", Money, nullable=False),
    Column("written_off_minor", Money, nullable=False),
    Column("credit_minor", Money, nullable=False),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("entry_id", String(80), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    *tenant(),
    Column("currency", String(3), nullable=False),
    Column("kind", String(16), nullable=False),  # charge, fee, add_on, payment, refund, write_off
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("description", String(300), nullable=False),
    Column("amount_minor", Money, nullable=False),  # + owed, - paid or forgiven
    Column("reference_id", String(36), nullable=False),
)


revenue = Table(  # billed (ready, billable) charges by month of service
    "revenue", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("clinician_id", String(64), primary_key=True),  # "" for fees without one
    Column("month", String(7), primary_key=True),  # YYYY-MM
    Column("currency", String(3), primary_key=True),
    Column("charged_minor", Money, nullable=False),
    Column("charges", Integer, nullable=False),
)

collections = Table(  # money in and out by month
    "collections", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("collected_minor", Money, nullable=False),
    Column("refunded_minor", Money, nullable=False),
    Column("written_off_minor", Money, nullable=False),
)


def balance(conn, event, client_id, currency, **amounts):
    add(conn, client_balances, {"client_id": client_id, "organisation_id": event.organisationid,
                                "clinic_id": event.clinicid, "currency": currency}, amounts)


def ledger_entry(conn, event, entry_id, client_id, currency, kind, occurred_on, description,
                 amount_minor, reference_id):
    conn.execute(insert(ledger_entries).values(
        entry_id=entry_id, client_id=client_id, organisation_id=event.organisationid,
        clinic_id=event.clinicid, currency=currency, kind=kind,
        occurred_on=parse_date(occurred_on) if isinstance(occurred_on, str) else occurred_on,
        recorded_at=parse_time(event.time), description=description,
        amount_minor=amount_minor, reference_id=reference_id))


def collect(conn, event, day, currency, **amounts):
    add(conn, collections, {"organisation_id": event.organisationid,
                            "clinic_id": event.clinicid, "month": month_of(day),
                            "currency": currency}, amounts)


def bill(conn, event, row, amount_minor, count, entry_id, description):
    """A charge (or part of one) became owed: balance, ledger and revenue."""
    balance(conn, event, row.client_id, row.currency, balance_minor=amount_minor,
            charged_minor=amount_minor, charges=count)
    ledger_entry(conn, event, entry_id, row.client_id, row.currency,
                 "charge" if row.kind == "session" else "fee", row.service_date, description,
                 amount_minor, row.charge_id)
    add(conn, revenue, {"organisation_id": event.organisationid, "clinic_id": event.clinicid,
                        "clinician_id": row.clinician_id or "",
                        "month": month_of(row.service_date), "currency": row.currency},
        {"charged_minor": amount_minor, "charges": count})
