"""The audit trail of access: who read or changed which client's record, when.

Every authenticated request (HTTP or RPC) leaves exactly one row in the
service's own database: user and role, organisation and clinic, the client
(null when the request touches no single client: clinic settings, fee
schedules, lists, this trail itself), the resource and route, read or change,
break-glass, correlation id and outcome. Ids only, never names or clinical text.

A change's row commits in the same transaction as its events (the unit of
work calls `record_change`); a read, a change that appended nothing and a
refused or failed request get their row after the handler, in a short
transaction of their own (`record_request`).

Rows are hash-chained: each stores the SHA-256 of its content and of the
previous row's hash, and `audit_head` keeps the last sequence number and hash,
so `verify` finds an altered, deleted, inserted or truncated row. Appends
lock the head row (FOR UPDATE on PostgreSQL; SQLite serialises writers), so
concurrent writers never fork the chain.
"""
import contextvars
import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import (
    BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, insert, select, update,
)
from sqlalchemy.exc import IntegrityError

from .timeutil import utc_now

GENESIS = "0" * 64

audit_metadata = MetaData()

audit_trail = Table(
    "audit_trail", audit_metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    # Fixed-width UTC text: compares in time order and hashes the same on every engine.
    Column("recorded_at", String(27), nullable=False),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64)),
    Column("user_id", String(255), nullable=False),
    Column("role", String(32), nullable=False),
    Column("client_id", String(64)),
    Column("resource", String(64)),
    Column("action", String(16), nullable=False),
    Column("route", String(255), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer),
    Column("break_glass", Boolean, nullable=False),
    Column("correlation_id", String(255)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_trail_client", "organisation_id", "client_id"),
    Index("ix_audit_trail_user", "organisation_id", "user_id"),
)

# One row (id 1): the chain's last seq and hash. Appends lock it; verify
# compares it with the last row, so a cut-off tail shows.
audit_head = Table(
    "audit_head", audit_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("hash", String(64), nullable=False),
)

CONTENT = [c.name for c in audit_trail.columns if c.name != "hash"]
EXPORTED = [c for c in CONTENT if c != "prev_hash"]


def timestamp(moment):
    """'2026-12-01T11:34:14.000123Z' (naive datetimes are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(row):
    """SHA-256 over the previous row's hash and this row's canonical content."""
    content = json.dumps({name: row[name] for name in CONTENT}, sort_keys=True,
                         separators=(",", ":"))
    return hashlib.sha256((row["prev_hash"] + content).encode()).hexdigest()


def create_schema(conn):
    audit_metadata.create_all(conn)
    if conn.execute(select(audit_head.c.id)).first() is None:
        try:
            with conn.begin_nested():  # another replica may create it at the same time
                conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        except IntegrityError:
            pass


# -- the access a worker is handling ---------------------------------------
@dataclass
class Access:
    route: str                 # "GET /clients/<uuid:client_id>", "rpc intake.client"
    action: str                # "read" or "change"
    correlation_id: str = None
    resource: str = None
    user_id: str = None
    role: str = None
    organisation_id: str = None
    clinic_id: str = None
    client_id: str = None
    break_glass: bool = False  # set by break-glass access (shared/care_team.py)
    store: object = None       # the EventStore the row goes to (bound by the runtime)
    recorded: bool = False

    def identify(self, principal):
        self.user_id, self.role = principal.user_id, principal.role
        self.organisation_id = principal.organisation_id

    def touching(self, client_id, clinic_id=None):
        if client_id is None:
            return
        if self.client_id is None:
            self.client_id = str(client_id)
        if clinic_id is not None and self.client_id == str(client_id) and self.clinic_id is None:
            self.clinic_id = str(clinic_id)

    def learn(self, payload):
        """A created or returned record names its client (e.g. POST /clients)."""
        if isinstance(payload, dict) and isinstance(payload.get("client_id"), str):
            self.touching(payload["client_id"], payload.get("clinic_id")
                          if isinstance(payload.get("clinic_id"), str) else None)


def store_of(container):
    """Where a nameko container's rows go: the store its Praxis dependency names."""
    for dependency in container.dependencies:
        store = getattr(dependency, "audit_store", None)
        if store is not None:
            return store
    return None


# Green threads each see their own (the runtime binds it per worker).
_current = contextvars.ContextVar("praxis_audit_access", default=None)


def bind(access):
    _current.set(access)


def current():
    return _current.get()


def touching(client_id, clinic_id=None):
    """An application loaded a record of this client by another id (a note,
    a charge, an appointment): the request's row names the client."""
    access = _current.get()
    if access is not None:
        access.touching(client_id, clinic_id)


def mark_break_glass():
    """The request acts under break-glass (shared/care_team.py): its row says so."""
    access = _current.get()
    if access is not None:
        access.break_glass = True


def identify(principal):
    """An RPC entrypoint verified its caller's token."""
    access = _current.get()
    if access is not None and access.user_id is None:
        access.identify(principal)


def outcome_of(status):
    if status < 400:
        return "allowed"
    if status in (401, 403):
        return "denied"
    if status == 404:
        return "not_found"
    return "failed"


# -- writing -----------------------------------------------------------------
def _append(conn, access, outcome, status):
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)
                        .where(audit_head.c.id == 1).with_for_update()).one()
    row = {"seq": head.seq + 1, "recorded_at": timestamp(utc_now()),
           "organisation_id": access.organisation_id, "clinic_id": access.clinic_id,
           "user_id": access.user_id, "role": access.role, "client_id": access.client_id,
           "resource": access.resource, "action": access.action, "route": access.route,
           "outcome": outcome, "status": status, "break_glass": bool(access.break_glass),
           "correlation_id": access.correlation_id, "prev_hash": head.hash}
    row["hash"] = digest(row)
    conn.execute(insert(audit_trail).values(**row))
    conn.execute(update(audit_head).where(audit_head.c.id == 1)
                 .values(seq=row["seq"], hash=row["hash"]))


def record_change(store, conn, appended):
    """Called by the unit of work before it commits: the access that appended
    these events gets its row in the same transaction. Returns the access (the
    caller marks it recorded once the commit succeeded), or None."""
    access = _current.get()
    if (not appended or access is None or access.recorded or access.user_id is None
            or access.store is not store):
        return None
    for event in appended:
        access.touching(event.data.get("client_id"), event.clinicid)
    if access.clinic_id is None and access.client_id is not None:
        clinics = {e.clinicid for e in appended} - {"*"}
        if len(clinics) == 1:
            access.clinic_id = clinics.pop()
    _append(conn, access, "allowed", None)
    return access


def record_request(access, outcome, status=None):
    """After the handler: the row of a read, or of a request whose change did not
    commit (refused, failed) or appended nothing. Once per access."""
    if access is None or access.recorded or access.user_id is None or access.store is None:
        return
    with access.store.write() as conn:
        _append(conn, access, outcome, status)
    access.recorded = True


# -- verifying ---------------------------------------------------------------
def _snapshot(engine):
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        # Head and rows from one snapshot, however many appends run meanwhile.
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def verify(engine):
    """Walk the chain. -> (rows checked, None) or (rows checked, first problem)."""
    with _snapshot(engine) as conn, conn.begin():
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)
                            .where(audit_head.c.id == 1)).first()
        if head is None:
            return 0, "no chain head (audit_head is empty or missing)"
        expected, previous, count = 1, GENESIS, 0
        rows = conn.execute(select(audit_trail).order_by(audit_trail.c.seq)
                            .execution_options(yield_per=1000))  # streamed, not all at once
        for row in rows.mappings():
            seq = row["seq"]
            if seq > head.seq:
                return count, f"row {seq}: beyond the chain head {head.seq} (inserted)"
            if seq != expected:
                return count, (f"row {expected}: missing (row {seq} follows row "
                               f"{expected - 1}; deleted)")
            if row["prev_hash"] != previous:
                return count, f"row {seq}: does not follow row {seq - 1} (inserted or replaced)"
            if digest(row) != row["hash"]:
                return count, f"row {seq}: content does not match its hash (altered)"
            previous, expected, count = row["hash"], expected + 1, count + 1
        if head.seq != expected - 1:
            return count, (f"row {expected}: missing, the head says the chain ends at row "
                           f"{head.seq} (truncated)")
        if head.hash != previous:
            return count, f"row {head.seq}: hash differs from the chain head's (altered)"
    return count, None


def head_of(engine):
    with engine.connect() as conn:
        return conn.execute(select(audit_head.c.seq, audit_head.c.hash)
                            .where(audit_head.c.id == 1)).first()


# -- the privacy officer's queries -------------------------------------------
def accesses(store, principal, client_id=None, user_id=None, start=None, end=None,
             limit=100, cursor=0):
    """Rows of the principal's organisation (and clinics) in seq order, a page at a
    time: {"accesses": [...], "next_cursor": seq or None}."""
    query = (select(*[audit_trail.c[name] for name in EXPORTED])
             .where(audit_trail.c.organisation_id == principal.organisation_id,
                    audit_trail.c.seq > cursor)
             .order_by(audit_trail.c.seq).limit(limit + 1))
    clinics = principal.clinic_filter()
    if clinics is not None:  # rows without a clinic are for organisation-wide officers
        query = query.where(audit_trail.c.clinic_id.in_(clinics))
    if client_id is not None:
        query = query.where(audit_trail.c.client_id == str(client_id))
    if user_id is not None:
        query = query.where(audit_trail.c.user_id == user_id)
    if start is not None:
        query = query.where(audit_trail.c.recorded_at >= timestamp(start))
    if end is not None:
        query = query.where(audit_trail.c.recorded_at < timestamp(end))
    with store.read() as conn:
        rows = [{"service": store.service, **row} for row in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"accesses": rows, "next_cursor": rows[-1]["seq"] if more else None}


CSV_COLUMNS = ["service", *EXPORTED]


def to_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
