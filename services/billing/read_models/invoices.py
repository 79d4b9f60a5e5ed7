"""Invoices and their lines, payments, and what each money event does to them."""
from sqlalchemy import Column, Date, DateTime, Integer, String, Table, insert, select, update

from shared.timeutil import parse_date, parse_time

from .base import Money, metadata, projection, tenant
from .charges import charges
from .ledger import balance, collect, ledger_entry

invoices = Table(
    "invoices", metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    *tenant(),
    Column("status", String(8), nullable=False, index=True),  # draft, issued, paid, void
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_minor", Money, nullable=False),
    Column("paid_minor", Money, nullable=False),
    Column("written_off_minor", Money, nullable=False),
    Column("issued_on", Date),
    Column("due_on", Date),
    Column("paid_on", Date),
    Column("void_reason", String(300)),
    Column("drafted_at", DateTime(timezone=True), nullable=False),
)

invoice_lines = Table(
    "invoice_lines", metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("charge_id", String(36), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("service_date", Date, nullable=False),
    Column("code", String(16)),
    Column("description", String(300), nullable=False),
    Column("amount_minor", Money, nullable=False),
)

payments = Table(
    "payments", metadata,
    Column("payment_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    *tenant(),
    Column("method", String(16), nullable=False),
    Column("amount_minor", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("reference", String(200)),
    Column("credit_minor", Money, nullable=False),
)


def _invoice_add(conn, invoice_id, **amounts):
    conn.execute(update(invoices).where(invoices.c.invoice_id == invoice_id).values(
        **{k: invoices.c[k] + v for k, v in amounts.items()}))


@projection.on("InvoiceDrafted")
def invoice_drafted(conn, event):
    data = event.data
    conn.execute(insert(invoices).values(
        invoice_id=data["invoice_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid, status="draft",
        period_start=parse_date(data["period_start"]), period_end=parse_date(data["period_end"]),
        currency=data["currency"], total_minor=data["total_minor"], paid_minor=0,
        written_off_minor=0, drafted_at=parse_time(event.time)))
    for position, line in enumerate(data["lines"]):
        conn.execute(insert(invoice_lines).values(
            invoice_id=data["invoice_id"], charge_id=line["charge_id"], position=position,
            service_date=parse_date(line["service_date"]), code=line["code"],
            description=line["description"], amount_minor=line["amount_minor"]))
        conn.execute(update(charges).where(charges.c.charge_id == line["charge_id"])
                     .values(invoice_id=data["invoice_id"]))


@projection.on("InvoiceIssued")
def invoice_issued(conn, event):
    conn.execute(update(invoices).where(invoices.c.invoice_id == event.data["invoice_id"]).values(
        status="issued", issued_on=parse_date(event.data["issued_on"]),
        due_on=parse_date(event.data["due_on"])))


@projection.on("InvoicePaid")
def invoice_paid(conn, event):
    conn.execute(update(invoices).where(invoices.c.invoice_id == event.data["invoice_id"]).values(
        status="paid", paid_on=parse_date(event.data["paid_on"])))


@projection.on("InvoiceVoided")
def invoice_voided(conn, event):
    data = event.data
    conn.execute(update(invoices).where(invoices.c.invoice_id == data["invoice_id"]).values(
        status="void", void_reason=data["reason"]))
    conn.execute(update(charges).where(charges.c.invoice_id == data["invoice_id"])
                 .values(invoice_id=None))
    if data["credit_returned_minor"]:
        currency = conn.execute(select(invoices.c.currency).where(
            invoices.c.invoice_id == data["invoice_id"])).scalar_one()
        balance(conn, event, data["client_id"], currency,
                credit_minor=data["credit_returned_minor"])


@projection.on("CreditApplied")
def credit_applied(conn, event):
    data = event.data
    _invoice_add(conn, data["invoice_id"], paid_minor=data["amount_minor"])
    balance(conn, event, data["client_id"], data["currency"], credit_minor=-data["amount_minor"])


@projection.on("PaymentReceived")
def payment_received(conn, event):
    data = event.data
    day = parse_date(data["received_on"])
    conn.execute(insert(payments).values(
        payment_id=data["payment_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid, method=data["method"],
        amount_minor=data["amount_minor"], currency=data["currency"], received_on=day,
        reference=data["reference"], credit_minor=data["credit_minor"]))
    for allocation in data["allocations"]:
        _invoice_add(conn, allocation["invoice_id"], paid_minor=allocation["amount_minor"])
    amount = data["amount_minor"]
    balance(conn, event, data["client_id"], data["currency"], balance_minor=-amount,
            paid_minor=amount, credit_minor=data["credit_minor"])
    ledger_entry(conn, event, f"payment-{data['payment_id']}", data["client_id"],
                 data["currency"], "payment", day, f"payment by {data['method']}", -amount,
                 data["payment_id"])
    collect(conn, event, day, data["currency"], collected_minor=amount)


@projection.on("RefundIssued")
def refund_issued(conn, event):
    data = event.data
    day, amount = parse_date(data["refunded_on"]), data["amount_minor"]
    balance(conn, event, data["client_id"], data["currency"], balance_minor=amount,
            refunded_minor=amount, credit_minor=-amount)
    ledger_entry(conn, event, f"refund-{data['refund_id']}", data["client_id"],
                 data["currency"], "refund", day,
                 f"refund by {data['method']}: {data['reason']}"[:300], amount, data["refund_id"])
    collect(conn, event, day, data["currency"], refunded_minor=amount)


@projection.on("WrittenOff")
def written_off(conn, event):
    data = event.data
    day, amount = parse_date(data["written_off_on"]), data["amount_minor"]
    _invoice_add(conn, data["invoice_id"], written_off_minor=amount)
    balance(conn, event, data["client_id"], data["currency"], balance_minor=-amount,
            written_off_minor=amount)
    ledger_entry(conn, event, f"write-off-{data['write_off_id']}", data["client_id"],
                 data["currency"], "write_off", day, f"written off: {data['reason']}"[:300],
                 -amount, data["invoice_id"])
    collect(conn, event, day, data["currency"], written_off_minor=amount)
