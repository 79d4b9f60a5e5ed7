"""What other services tell billing: clients and their payers through time (intake),
consents, diagnoses (notes), and whether each session's note is signed."""
import json

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, Text, delete, \
    insert, select

from shared import client_history
from shared.timeutil import parse_date, parse_time

from .base import aware, metadata, of_tenant, projection, tenant, upsert

# Rows of other services' clients are keyed by their tenancy too, so a client id
# alone never reaches a row of another organisation or clinic.
billing_clients = Table(  # from intake: who is billed, and by which payer
    "billing_clients", metadata,
    *tenant(primary_key=True),
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
    *tenant(primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("ordinal", Integer, primary_key=True),  # 1: the registration, in intake's order
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("name", String(200), nullable=False),
    Column("payer_kind", String(16), nullable=False),
    Column("insurer_name", String(200)),
    Column("member_id", String(100)),
)

# Clients erased at intake: their amounts stay (charges, balances, ledger, invoices,
# payments keep the clinic's totals whole) but nothing answers for them (404).
erased_clients = Table(
    "billing_erased_clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)

# Every ConsentGiven / ConsentRevoked by its own time: a late-cancel or no-show fee
# is decided by the consent in force when the appointment was missed, whatever the
# order they arrived in and whatever changed after.
consent_history = Table(
    "billing_consent_history", metadata,
    *tenant(primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("sequence", Integer, nullable=False),  # in intake's client stream: ties at `at`
    Column("given", Boolean, nullable=False),  # false: revoked
    Column("document_version", String(40)),
)


diagnoses = Table(
    "billing_diagnoses", metadata,
    *tenant(primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("codes", Text, nullable=False),  # JSON list of ICD-10 codes
    Column("set_at", DateTime(timezone=True), nullable=False),
)

note_status = Table(  # per appointment: is its progress note signed (and co-signed)?
    "note_status", metadata,
    *tenant(primary_key=True),
    Column("appointment_id", String(36), primary_key=True),
    Column("signed", Boolean, nullable=False),
    Column("pending_supervision", Boolean, nullable=False),
    Column("cosigned", Boolean, nullable=False),
)


def _payer(payer):
    payer = payer or {}
    return {"payer_kind": payer.get("kind") or "self_pay",
            "insurer_name": payer.get("insurer_name"), "member_id": payer.get("member_id")}


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
        upsert(conn, billing_clients, key, _client_row(found[-1][2]))
    else:
        conn.execute(delete(billing_clients).where(
            *(billing_clients.c[k] == v for k, v in key.items())))


@projection.on(*client_history.CONSENTS)
def consent_changed(conn, event):
    data = event.data
    # Counted with the client's details (the revision a fee waits for) ...
    client_history.record(conn, client_facts, event)
    # ... and kept by its own time.
    given = event.name == "ConsentGiven"
    upsert(conn, consent_history, dict(
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        client_id=data["client_id"], kind=data["kind"], event_id=event.id), dict(
        at=parse_time(data["given_at"] if given else data["revoked_at"]),
        sequence=event.sequence or 0, given=given,
        document_version=data.get("document_version")))


def consent_in_force(conn, organisation_id, clinic_id, client_id, kind, at):
    """When the consent of `kind` in force at `at` was given, or None: the latest
    change at or before `at` (by time, then intake's order) decides."""
    rows = conn.execute(select(consent_history).where(
        consent_history.c.organisation_id == organisation_id,
        consent_history.c.clinic_id == clinic_id, consent_history.c.client_id == client_id,
        consent_history.c.kind == kind)).all()
    before = sorted(((aware(r.at), r.sequence, r.event_id, r.given) for r in rows
                     if aware(r.at) <= at))
    return before[-1][0] if before and before[-1][3] else None


@projection.on("DiagnosesSet")
def diagnoses_set(conn, event):
    data = event.data
    codes = json.dumps(data["codes"], sort_keys=True)
    stored = conn.execute(select(diagnoses.c.set_at, diagnoses.c.codes).where(
        of_tenant(diagnoses, event, client_id=data["client_id"]))).first()
    if stored is not None and (aware(stored.set_at), stored.codes) > (
            parse_time(data["set_at"]), codes):
        return  # a later diagnosis is in: an earlier one arriving late changes nothing
    upsert(conn, diagnoses, dict(organisation_id=event.organisationid, clinic_id=event.clinicid,
                                 client_id=data["client_id"]),
           dict(codes=codes, set_at=parse_time(data["set_at"])))


@projection.on("NoteSigned", "NoteCoSigned")
def note_signature(conn, event):
    appointment_id = event.data["appointment_id"]
    stored = conn.execute(select(note_status).where(
        of_tenant(note_status, event, appointment_id=appointment_id))).first()
    state = dict(signed=stored.signed, pending_supervision=stored.pending_supervision,
                 cosigned=stored.cosigned) if stored else \
        dict(signed=False, pending_supervision=False, cosigned=False)
    if event.name == "NoteSigned":
        state.update(signed=True, pending_supervision=event.data["pending_supervision"])
    else:
        state.update(cosigned=True)
    upsert(conn, note_status, dict(organisation_id=event.organisationid,
                                   clinic_id=event.clinicid, appointment_id=appointment_id),
           state)


@projection.on("ClientErased")
def client_erased(conn, event):
    upsert(conn, erased_clients, {"client_id": str(event.data["client_id"])},
           {"erased_at": parse_time(event.data["erased_at"])})
