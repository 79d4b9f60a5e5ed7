"""A client's registration details as another service learns them from intake,
whatever order ClientRegistered and ClientDetailsUpdated arrive in.

Each such event is kept as a fact keyed by intake's stream sequence; a client's
details are the fold of its facts in that order (not arrival order), starting
from the registration. An update that comes before its registration waits in
the table and counts once the registration is there. `details_revision` (1 for
the registration, +1 per update or consent given or revoked, stamped by intake)
lets a consumer tell it has every change up to a revision (see `complete_up_to`):
a consent is kept here as a fact that changes no detail, only to count.
"""
import json

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, delete, insert, select

from .timeutil import parse_time


def facts_table(metadata, name):
    return Table(
        name, metadata,
        Column("organisation_id", String(64), primary_key=True),
        Column("clinic_id", String(64), primary_key=True),
        Column("client_id", String(36), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("sequence", Integer, nullable=False),  # in intake's client stream
        Column("kind", String(16), nullable=False),  # registered, updated, consent
        Column("at", DateTime(timezone=True), nullable=False),
        Column("revision", Integer),  # details_revision; None from older intakes
        Column("details", Text, nullable=False),  # JSON: registration data or changes
    )


CONSENTS = ("ConsentGiven", "ConsentRevoked")


def record(conn, facts, event):
    """Keep a ClientRegistered, ClientDetailsUpdated, ConsentGiven or ConsentRevoked;
    return the client's key."""
    data = event.data
    key = dict(organisation_id=event.organisationid, clinic_id=event.clinicid,
               client_id=str(data["client_id"]), event_id=event.id)
    found = key["organisation_id"], key["clinic_id"], key["client_id"]
    registered = event.name == "ClientRegistered"
    if event.name in CONSENTS:
        if not data.get("details_revision"):
            return found  # recorded before consents counted: no revision to account for
        kind, at, details = "consent", data.get("given_at") or data["revoked_at"], {}
    elif registered:
        kind, at, details = "registered", data["registered_at"], data
    else:
        kind, at, details = "updated", data["updated_at"], data.get("changes") or {}
    conn.execute(delete(facts).where(*(facts.c[k] == v for k, v in key.items())))
    conn.execute(insert(facts).values(
        **key, sequence=event.sequence or 0, kind=kind, at=parse_time(at),
        revision=data.get("details_revision") or (1 if registered else None),
        details=json.dumps(details, sort_keys=True, default=str)))
    return found


def _facts(conn, facts, organisation_id, clinic_id, client_id):
    return conn.execute(select(facts).where(
        facts.c.organisation_id == organisation_id, facts.c.clinic_id == clinic_id,
        facts.c.client_id == client_id)
        .order_by(facts.c.sequence, facts.c.at, facts.c.event_id)).all()


def versions(conn, facts, organisation_id, clinic_id, client_id):
    """[(at, sequence, details)] from the registration on, in intake's order (stream
    sequence, then time); [] while
    the registration has not arrived."""
    rows = _facts(conn, facts, organisation_id, clinic_id, client_id)
    registration = next((r for r in rows if r.kind == "registered"), None)
    if registration is None:
        return []
    details = json.loads(registration.details)
    out = [(registration.at, registration.sequence, dict(details))]
    for row in rows:  # the registration comes first in intake's stream
        if row.kind == "updated":
            details.update(json.loads(row.details))
            out.append((row.at, row.sequence, dict(details)))
    return out


def latest_registration(conn, facts, client_id):
    """(organisation_id, clinic_id) of the client's latest registration in intake's
    order (a client registered again at another clinic moves there), or None."""
    row = conn.execute(select(facts.c.organisation_id, facts.c.clinic_id).where(
        facts.c.client_id == client_id, facts.c.kind == "registered")
        .order_by(facts.c.sequence.desc(), facts.c.at.desc(), facts.c.event_id.desc())).first()
    return tuple(row) if row else None


def latest(conn, facts, organisation_id, clinic_id, client_id):
    found = versions(conn, facts, organisation_id, clinic_id, client_id)
    return found[-1][2] if found else None


def latest_revision(conn, facts, organisation_id, clinic_id, client_id):
    """The highest details revision known to exist (to stamp on what depends on it)."""
    rows = _facts(conn, facts, organisation_id, clinic_id, client_id)
    stamped = [r.revision for r in rows if r.revision]
    return max(stamped + [len(rows)]) if rows else 0


def complete_up_to(conn, facts, organisation_id, clinic_id, client_id, revision):
    """Whether the registration and every change up to `revision` are here."""
    rows = _facts(conn, facts, organisation_id, clinic_id, client_id)
    if not any(r.kind == "registered" for r in rows):
        return False
    # Unstamped updates (older intakes) came before every stamped one.
    held = sum(1 for r in rows if r.revision is None or r.revision <= (revision or 1))
    return held >= (revision or 1)

