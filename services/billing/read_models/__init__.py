"""Billing's read models: tables derived only from events (see `make rebuild`).

Handlers are deterministic functions of the event: no clock, no randomness.
Money columns hold integer minor units.
"""
import json
from datetime import timezone

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, \
    String, Table, Text, and_, delete, insert, select, update

from shared import care_team, client_history
from shared.projection import Projection
from shared.timeutil import parse_date, parse_time

metadata = MetaData()

Money = BigInteger().with_variant(Integer, "sqlite")


def _tenant(primary_key=False):
    return [Column("organisation_id", String(64), nullable=False, primary_key=primary_key),
            Column("clinic_id", String(64), nullable=False, primary_key=primary_key)]


fee_schedules = Table(  # the latest schedule set per clinic
    "fee_schedules", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("prices", Text, nullable=False),  # JSON {code: minor units}, sorted keys
    Column("version", Integer, nullable=False),
    Column("effective_from", Date),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

fee_schedule_versions = Table(  # the versions in force (an undated set replaces all)
    "fee_schedule_versions", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("prices", Text, nullable=False),
    Column("effective_from", Date),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

billing_policies = Table(
    "billing_policies", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("policy", Text, nullable=False),  # JSON of BillingPolicySet's data
    Column("version", Integer, nullable=False),
)

# Rows of other services' clients are keyed by their tenancy too, so a client id
# alone never reaches a row of another organisation or clinic.
billing_clients = Table(  # from intake: who is billed, and by which payer
    "billing_clients", metadata,
    *_tenant(primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("date_of_birth", Date),
    Column("payer_kind", String(16), nullable=False),
    Column("insurer_name", String(200)),
    Column("member_id", String(100)),
    Column("address", String(700)),  # the postal address as a superbill prints it
)

# Every ClientRegistered / ClientDetailsUpdated as a fact (shared/client_history.py),
# and the client's details after each, by the time of the change: a charge is
# priced for the payer in force when the session took place, whatever the order
# the events arrived in.
client_facts = client_history.facts_table(metadata, "billing_client_facts")

billing_client_versions = Table(
    "billing_client_versions", metadata,
    *_tenant(primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("ordinal", Integer, primary_key=True),  # 1: the registration, in intake's order
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("name", String(200), nullable=False),
    Column("payer_kind", String(16), nullable=False),
    Column("insurer_name", String(200)),
    Column("member_id", String(100)),
)

consents = Table(
    "billing_consents", metadata,
    *_tenant(primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("document_version", String(40)),
    Column("given_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

diagnoses = Table(
    "billing_diagnoses", metadata,
    *_tenant(primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("codes", Text, nullable=False),  # JSON list of ICD-10 codes
    Column("set_at", DateTime(timezone=True), nullable=False),
)

note_status = Table(  # per appointment: is its progress note signed (and co-signed)?
    "note_status", metadata,
    *_tenant(primary_key=True),
    Column("appointment_id", String(36), primary_key=True),
    Column("signed", Boolean, nullable=False),
    Column("pending_supervision", Boolean, nullable=False),
    Column("cosigned", Boolean, nullable=False),
)

billing_profiles = Table(
    "billing_profiles", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("clinician_key", String(64), primary_key=True),  # "" for the clinic itself
    Column("name", String(200), nullable=False),
    Column("npi", String(10), nullable=False),
    Column("tax_id", String(12)),
    Column("address", String(500)),
    Column("phone", String(40)),
)

sliding_scales = Table(
    "sliding_scales", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("starts_on", Date, primary_key=True),
    Column("percent", Integer, nullable=False),
)

charges = Table(
    "charges", metadata,
    Column("charge_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # session, late_cancel, no_show, assessment
    Column("appointment_id", String(36), index=True),
    Column("assessment_id", String(36)),
    Column("client_id", String(36), nullable=False, index=True),
    Column("clinician_id", String(64)),
    *_tenant(),
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
    *_tenant(),
    Column("currency", String(3), nullable=False),
    Column("kind", String(16), nullable=False),  # charge, fee, add_on, payment, refund, write_off
    Column("occurred_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("description", String(300), nullable=False),
    Column("amount_minor", Money, nullable=False),  # + owed, - paid or forgiven
    Column("reference_id", String(36), nullable=False),
)

invoices = Table(
    "invoices", metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    *_tenant(),
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
    *_tenant(),
    Column("method", String(16), nullable=False),
    Column("amount_minor", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("reference", String(200)),
    Column("credit_minor", Money, nullable=False),
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

projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)


# -- helpers ---------------------------------------------------------------------
def _add(conn, table, key, amounts):
    """Add `amounts` to the row at `key`, creating it at zero first."""
    where = and_(*(table.c[k] == v for k, v in key.items()))
    if conn.execute(select(*[table.c[k] for k in key]).where(where)).first() is None:
        zeros = {c.name: 0 for c in table.columns if c.name not in key}
        conn.execute(insert(table).values(**key, **zeros))
    conn.execute(update(table).where(where).values(
        **{name: table.c[name] + value for name, value in amounts.items()}))


def _balance(conn, event, client_id, currency, **amounts):
    _add(conn, client_balances, {"client_id": client_id, "organisation_id": event.organisationid,
                                 "clinic_id": event.clinicid, "currency": currency}, amounts)


def _ledger(conn, event, entry_id, client_id, currency, kind, occurred_on, description,
            amount_minor, reference_id):
    conn.execute(insert(ledger_entries).values(
        entry_id=entry_id, client_id=client_id, organisation_id=event.organisationid,
        clinic_id=event.clinicid, currency=currency, kind=kind,
        occurred_on=parse_date(occurred_on) if isinstance(occurred_on, str) else occurred_on,
        recorded_at=parse_time(event.time), description=description,
        amount_minor=amount_minor, reference_id=reference_id))


def _month(day):
    return day.isoformat()[:7]


def _charge(conn, charge_id):
    return conn.execute(select(charges).where(charges.c.charge_id == charge_id)).first()


def _bill(conn, event, row, amount_minor, count, entry_id, description):
    """A charge (or part of one) became owed: balance, ledger and revenue."""
    _balance(conn, event, row.client_id, row.currency, balance_minor=amount_minor,
             charged_minor=amount_minor, charges=count)
    _ledger(conn, event, entry_id, row.client_id, row.currency,
            "charge" if row.kind == "session" else "fee", row.service_date, description,
            amount_minor, row.charge_id)
    _add(conn, revenue, {"organisation_id": event.organisationid, "clinic_id": event.clinicid,
                         "clinician_id": row.clinician_id or "",
                         "month": _month(row.service_date), "currency": row.currency},
         {"charged_minor": amount_minor, "charges": count})


def describe(row):
    if row.kind == "session":
        return f"{row.session_type or 'individual'} session {row.code}"
    if row.kind == "assessment":
        return f"standardized instrument {row.code}"
    return {"late_cancel": "late-cancellation fee", "no_show": "no-show fee"}[row.kind]


# -- configuration -------------------------------------------------------------------
@projection.on("FeeScheduleSet")
def fee_schedule_set(conn, event):
    data = event.data
    key = and_(fee_schedules.c.organisation_id == event.organisationid,
               fee_schedules.c.clinic_id == event.clinicid)
    effective_from = parse_date(data["effective_from"]) if data.get("effective_from") else None
    values = dict(organisation_id=event.organisationid, clinic_id=event.clinicid,
                  currency=data["currency"], prices=json.dumps(data["prices"], sort_keys=True),
                  version=event.sequence, effective_from=effective_from,
                  set_at=parse_time(event.time))
    conn.execute(delete(fee_schedules).where(key))
    conn.execute(insert(fee_schedules).values(**values))
    versions = and_(fee_schedule_versions.c.organisation_id == event.organisationid,
                    fee_schedule_versions.c.clinic_id == event.clinicid)
    if effective_from is None:
        conn.execute(delete(fee_schedule_versions).where(versions))
    else:
        conn.execute(delete(fee_schedule_versions).where(
            versions, fee_schedule_versions.c.effective_from == effective_from))
    conn.execute(insert(fee_schedule_versions).values(**values))


@projection.on("BillingPolicySet")
def policy_set(conn, event):
    conn.execute(delete(billing_policies).where(
        billing_policies.c.organisation_id == event.organisationid,
        billing_policies.c.clinic_id == event.clinicid))
    conn.execute(insert(billing_policies).values(
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        policy=json.dumps(event.data, sort_keys=True), version=event.sequence))


@projection.on("SlidingScaleSet")
def sliding_scale_set(conn, event):
    data = event.data
    key = dict(organisation_id=event.organisationid, clinic_id=event.clinicid,
               client_id=data["client_id"], starts_on=parse_date(data["starts_on"]))
    conn.execute(delete(sliding_scales).where(*(sliding_scales.c[k] == v
                                                for k, v in key.items())))
    conn.execute(insert(sliding_scales).values(**key, percent=data["percent"]))


@projection.on("BillingProfileSet")
def profile_set(conn, event):
    data = event.data
    key = dict(organisation_id=event.organisationid, clinic_id=event.clinicid,
               clinician_key=data["clinician_id"] or "")
    conn.execute(delete(billing_profiles).where(*(billing_profiles.c[k] == v
                                                  for k, v in key.items())))
    conn.execute(insert(billing_profiles).values(
        **key, name=data["name"], npi=data["npi"], tax_id=data["tax_id"],
        address=data["address"], phone=data.get("phone")))


# -- what other services tell billing -------------------------------------------------
def _payer(payer):
    payer = payer or {}
    return {"payer_kind": payer.get("kind") or "self_pay",
            "insurer_name": payer.get("insurer_name"), "member_id": payer.get("member_id")}


def _of_tenant(table, event, **key):
    """The WHERE clause for a row of the event's organisation and clinic."""
    return and_(table.c.organisation_id == event.organisationid,
                table.c.clinic_id == event.clinicid, *(table.c[k] == v for k, v in key.items()))


def _client_row(details):
    """billing_clients' columns from a client's folded registration details."""
    payer = details.get("payer")
    dob = details.get("date_of_birth")
    address = details.get("address")
    return dict(name=details["name"], date_of_birth=parse_date(dob) if dob else None,
                address=postal_address(address) if isinstance(address, dict) else None,
                **_payer(payer if isinstance(payer, dict) else None))


def postal_address(address):
    """One line per part, as an envelope or a claim form shows it."""
    place = " ".join(p for p in (address.get("region"), address.get("postal_code")) if p)
    town = ", ".join(p for p in (address.get("city"), place) if p)
    return "\n".join(p for p in (address.get("line1"), address.get("line2"), town,
                                 address.get("country")) if p)


@projection.on("ClientRegistered", "ClientDetailsUpdated")
def client_details(conn, event):
    # Kept as a fact, then the client's rows recomputed from every fact in intake's
    # order: arrival order never matters, an early update waits for its registration.
    org, clinic, client_id = client_history.record(conn, client_facts, event)
    key = dict(organisation_id=org, clinic_id=clinic, client_id=client_id)
    conn.execute(delete(billing_clients).where(
        *(billing_clients.c[k] == v for k, v in key.items())))
    conn.execute(delete(billing_client_versions).where(
        *(billing_client_versions.c[k] == v for k, v in key.items())))
    found = client_history.versions(conn, client_facts, org, clinic, client_id)
    for ordinal, (at, _sequence, details) in enumerate(found, start=1):
        row = _client_row(details)
        conn.execute(insert(billing_client_versions).values(
            **key, ordinal=ordinal, effective_at=at, name=row["name"],
            payer_kind=row["payer_kind"], insurer_name=row["insurer_name"],
            member_id=row["member_id"]))
    if found:
        conn.execute(insert(billing_clients).values(**key, **_client_row(found[-1][2])))


def payer_at(conn, organisation_id, clinic_id, client_id, at):
    """The client's version in force at `at` (the registration's before it), or None."""
    where = and_(billing_client_versions.c.organisation_id == organisation_id,
                 billing_client_versions.c.clinic_id == clinic_id,
                 billing_client_versions.c.client_id == client_id)
    rows = conn.execute(select(billing_client_versions).where(where)
                        .order_by(billing_client_versions.c.ordinal)).all()
    chosen = rows[0] if rows else None
    for row in rows:
        if _aware(row.effective_at) <= at:
            chosen = row
    return chosen


@projection.on("ConsentGiven", "ConsentRevoked")
def consent_changed(conn, event):
    data = event.data
    key = _of_tenant(consents, event, client_id=data["client_id"], kind=data["kind"])
    if conn.execute(select(consents.c.client_id).where(key)).first() is None:
        conn.execute(insert(consents).values(
            client_id=data["client_id"], kind=data["kind"],
            organisation_id=event.organisationid, clinic_id=event.clinicid))
    # By their own times, whichever arrives last: the latest consent given, and the
    # latest withdrawal unless a consent was given after it.
    stored = conn.execute(select(consents.c.given_at, consents.c.revoked_at).where(key)).one()
    given = _aware(stored.given_at) if stored.given_at is not None else None
    revoked = _aware(stored.revoked_at) if stored.revoked_at is not None else None
    if event.name == "ConsentGiven":
        at = parse_time(data["given_at"])
        if given is not None and given >= at:
            return
        conn.execute(update(consents).where(key).values(
            given_at=at, document_version=data["document_version"],
            revoked_at=stored.revoked_at if revoked is not None and revoked > at else None))
    else:
        at = parse_time(data["revoked_at"])
        if (given is not None and given > at) or (revoked is not None and revoked >= at):
            return
        conn.execute(update(consents).where(key).values(revoked_at=at))


def _aware(moment):
    """SQLite gives back naive datetimes; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@projection.on("DiagnosesSet")
def diagnoses_set(conn, event):
    data = event.data
    codes = json.dumps(data["codes"], sort_keys=True)
    stored = conn.execute(select(diagnoses.c.set_at, diagnoses.c.codes).where(
        _of_tenant(diagnoses, event, client_id=data["client_id"]))).first()
    if stored is not None and (_aware(stored.set_at), stored.codes) > (
            parse_time(data["set_at"]), codes):
        return  # a later diagnosis is in: an earlier one arriving late changes nothing
    conn.execute(delete(diagnoses).where(
        _of_tenant(diagnoses, event, client_id=data["client_id"])))
    conn.execute(insert(diagnoses).values(
        client_id=data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, codes=codes, set_at=parse_time(data["set_at"])))


@projection.on("NoteSigned", "NoteCoSigned")
def note_signature(conn, event):
    appointment_id = event.data["appointment_id"]
    key = _of_tenant(note_status, event, appointment_id=appointment_id)
    if conn.execute(select(note_status.c.appointment_id).where(key)).first() is None:
        conn.execute(insert(note_status).values(
            appointment_id=appointment_id, organisation_id=event.organisationid,
            clinic_id=event.clinicid, signed=False, pending_supervision=False, cosigned=False))
    if event.name == "NoteSigned":
        conn.execute(update(note_status).where(key).values(
            signed=True, pending_supervision=event.data["pending_supervision"]))
    else:
        conn.execute(update(note_status).where(key).values(cosigned=True))


# -- charges -------------------------------------------------------------------------
@projection.on("ChargeRecorded")
def charge_recorded(conn, event):
    data = event.data
    status = data.get("status", "ready")
    conn.execute(insert(charges).values(
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
        row = _charge(conn, data["charge_id"])
        _bill(conn, event, row, row.amount_minor, 1, f"charge-{row.charge_id}", describe(row))


@projection.on("FeeCharged")
def fee_charged(conn, event):
    data = event.data
    conn.execute(insert(charges).values(
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
        row = _charge(conn, data["charge_id"])
        _bill(conn, event, row, row.amount_minor, 1, f"charge-{row.charge_id}", describe(row))


@projection.on("ChargeReleased")
def charge_released(conn, event):
    row = _charge(conn, event.data["charge_id"])
    conn.execute(update(charges).where(charges.c.charge_id == row.charge_id)
                 .values(status="ready", hold_reason=None))
    _bill(conn, event, row, row.amount_minor, 1, f"charge-{row.charge_id}", describe(row))


@projection.on("ChargeAddOnAdded")
def charge_add_on(conn, event):
    data = event.data
    row = _charge(conn, data["charge_id"])
    line = data["line"]
    conn.execute(update(charges).where(charges.c.charge_id == row.charge_id).values(
        amount_minor=data["amount_minor"],
        full_amount_minor=row.full_amount_minor + line["fee_minor"],
        lines=json.dumps(json.loads(row.lines) + [line], sort_keys=True)))
    if row.status == "ready":
        _bill(conn, event, row, line["amount_minor"], 0, f"add-on-{event.id}",
              f"add-on {line['code']} to {row.code}")


# -- invoices and money ------------------------------------------------------------------
def _invoice_add(conn, invoice_id, **amounts):
    conn.execute(update(invoices).where(invoices.c.invoice_id == invoice_id).values(
        **{k: invoices.c[k] + v for k, v in amounts.items()}))


def _collect(conn, event, day, currency, **amounts):
    _add(conn, collections, {"organisation_id": event.organisationid,
                             "clinic_id": event.clinicid, "month": _month(day),
                             "currency": currency}, amounts)


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
        _balance(conn, event, data["client_id"], currency,
                 credit_minor=data["credit_returned_minor"])


@projection.on("CreditApplied")
def credit_applied(conn, event):
    data = event.data
    _invoice_add(conn, data["invoice_id"], paid_minor=data["amount_minor"])
    _balance(conn, event, data["client_id"], data["currency"], credit_minor=-data["amount_minor"])


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
    _balance(conn, event, data["client_id"], data["currency"], balance_minor=-amount,
             paid_minor=amount, credit_minor=data["credit_minor"])
    _ledger(conn, event, f"payment-{data['payment_id']}", data["client_id"], data["currency"],
            "payment", day, f"payment by {data['method']}", -amount, data["payment_id"])
    _collect(conn, event, day, data["currency"], collected_minor=amount)


@projection.on("RefundIssued")
def refund_issued(conn, event):
    data = event.data
    day, amount = parse_date(data["refunded_on"]), data["amount_minor"]
    _balance(conn, event, data["client_id"], data["currency"], balance_minor=amount,
             refunded_minor=amount, credit_minor=-amount)
    _ledger(conn, event, f"refund-{data['refund_id']}", data["client_id"], data["currency"],
            "refund", day, f"refund by {data['method']}: {data['reason']}"[:300], amount,
            data["refund_id"])
    _collect(conn, event, day, data["currency"], refunded_minor=amount)


@projection.on("WrittenOff")
def written_off(conn, event):
    data = event.data
    day, amount = parse_date(data["written_off_on"]), data["amount_minor"]
    _invoice_add(conn, data["invoice_id"], written_off_minor=amount)
    _balance(conn, event, data["client_id"], data["currency"], balance_minor=-amount,
             written_off_minor=amount)
    _ledger(conn, event, f"write-off-{data['write_off_id']}", data["client_id"],
            data["currency"], "write_off", day, f"written off: {data['reason']}"[:300],
            -amount, data["invoice_id"])
    _collect(conn, event, day, data["currency"], written_off_minor=amount)
