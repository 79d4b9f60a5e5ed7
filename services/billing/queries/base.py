"""What every query of billing shares: the caller's tenancy, rows by id, views."""
import json

from sqlalchemy import and_, select

from shared.errors import InvalidInput, NotFound
from shared.timeutil import iso

from ..read_models import billing_client_versions, billing_clients, charges, client_balances, \
    erased_clients
from ..read_models.base import aware


def check_clinic_id(clinic_id):
    if not 1 <= len(clinic_id) <= 64:
        raise InvalidInput("invalid clinic id", {"clinic_id": ["must be 1-64 characters"]})


def require_clinic(principal, clinic_id):
    """A clinic the caller names: a well-formed id of one of the caller's clinics."""
    check_clinic_id(clinic_id)
    principal.require_clinic(principal.organisation_id, clinic_id)


def visible(statement, table, principal):
    statement = statement.where(table.c.organisation_id == principal.organisation_id)
    clinics = principal.clinic_filter()
    if clinics is not None:
        statement = statement.where(table.c.clinic_id.in_(clinics))
    return statement


def client_clinics(conn, principal, client_id):
    """The clinics of the caller's organisation where billing's own records hold the
    client and the caller may see them: a client's tenancy comes from what billing
    stored, never from the request."""
    organisation_id = principal.organisation_id
    if conn.execute(select(erased_clients.c.client_id).where(
            erased_clients.c.client_id == str(client_id))).first() is not None:
        return []  # erased: its amounts stay in the clinic's totals, nothing answers for it
    found = set()
    for table in (billing_clients, charges, client_balances):
        found |= set(conn.execute(select(table.c.clinic_id).where(
            table.c.organisation_id == organisation_id,
            table.c.client_id == str(client_id)).distinct()).scalars())
    return sorted(c for c in found if principal.sees(organisation_id, c))


def client_clinic(conn, principal, client_id, clinic_id=None):
    """(organisation, clinic) of one client as the caller may see it. A clinic the
    caller names only chooses among the client's clinics (403 if not the caller's);
    an unknown client, or one outside the caller's reach, is 404."""
    principal.require_own_record(client_id)
    if clinic_id is not None:
        check_clinic_id(clinic_id)
        principal.require_clinic(principal.organisation_id, clinic_id)
    clinics = client_clinics(conn, principal, client_id)
    if clinic_id is not None:
        clinics = [c for c in clinics if c == clinic_id]
    if not clinics:
        raise NotFound("client not found")
    if len(clinics) > 1:
        raise InvalidInput("the client is billed at several clinics; name one",
                           {"clinic_id": ["required for this client"]})
    # Through require_visible like every load by id, so the request's audit names it.
    principal.require_visible({"organisation_id": principal.organisation_id,
                               "clinic_id": clinics[0], "client_id": str(client_id)}, "client")
    return principal.organisation_id, clinics[0]


def visible_row(conn, table, key, value, principal, what):
    """One row by id, looked up within the caller's organisation and clinics (404
    otherwise)."""
    row = conn.execute(visible(select(table).where(table.c[key] == str(value)),
                               table, principal)).first()
    principal.require_visible(row and row._asdict(), what)  # 404, and the audit's client
    return row


def client_row(conn, organisation_id, clinic_id, client_id):
    return conn.execute(select(billing_clients).where(
        billing_clients.c.organisation_id == organisation_id,
        billing_clients.c.clinic_id == clinic_id,
        billing_clients.c.client_id == str(client_id))).first()


def payer_at(conn, organisation_id, clinic_id, client_id, at):
    """The client's version in force at `at` (the registration's before it), or None."""
    where = and_(billing_client_versions.c.organisation_id == organisation_id,
                 billing_client_versions.c.clinic_id == clinic_id,
                 billing_client_versions.c.client_id == client_id)
    rows = conn.execute(select(billing_client_versions).where(where)
                        .order_by(billing_client_versions.c.ordinal)).all()
    chosen = rows[0] if rows else None
    for row in rows:
        if aware(row.effective_at) <= at:
            chosen = row
    return chosen


def day_of(value):
    return value.isoformat() if value is not None else None


def charge_view(record):
    return {"charge_id": record["charge_id"], "kind": record["kind"],
            "appointment_id": record["appointment_id"],
            "assessment_id": record["assessment_id"],
            "client_id": record["client_id"], "clinician_id": record["clinician_id"],
            "clinic_id": record["clinic_id"], "service_date": record["service_date"].isoformat(),
            "minutes": record["minutes"], "session_type": record["session_type"],
            "modality": record["modality"], "place_of_service": record["place_of_service"],
            "code": record["code"], "lines": json.loads(record["lines"]),
            "billable": record["billable"], "reason": record["reason"],
            "status": record["status"], "hold_reason": record["hold_reason"],
            "full_amount_minor": record["full_amount_minor"],
            "sliding_scale_percent": record["sliding_scale_percent"],
            "amount_minor": record["amount_minor"], "currency": record["currency"],
            "invoice_id": record["invoice_id"], "recorded_at": iso(record["recorded_at"])}


def invoice_view(row, lines):
    due = row.total_minor - row.paid_minor - row.written_off_minor
    return {"invoice_id": row.invoice_id, "client_id": row.client_id,
            "organisation_id": row.organisation_id, "clinic_id": row.clinic_id,
            "status": row.status, "period_start": day_of(row.period_start),
            "period_end": day_of(row.period_end), "currency": row.currency,
            "total_minor": row.total_minor, "paid_minor": row.paid_minor,
            "written_off_minor": row.written_off_minor,
            "due_minor": due if row.status in ("issued", "paid") else 0,
            "issued_on": day_of(row.issued_on), "due_on": day_of(row.due_on),
            "paid_on": day_of(row.paid_on), "void_reason": row.void_reason,
            "lines": [{"charge_id": line.charge_id, "service_date": day_of(line.service_date),
                       "code": line.code, "description": line.description,
                       "amount_minor": line.amount_minor} for line in lines]}


def profile_view(row):
    return {"clinician_id": row.clinician_key or None, "name": row.name, "npi": row.npi,
            "tax_id": row.tax_id, "address": row.address, "phone": row.phone}
