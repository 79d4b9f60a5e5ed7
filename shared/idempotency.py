"""Idempotency-Key: a retried POST answers its first result instead of acting twice.

One scheme for every POST route (shared/web.py reads the header; the unit of
work in shared/store.py writes the key with the command's events, as audit.py's
change rows are written):

1. The web layer checks the key (1-255 printable ASCII, else 422) and hashes
   the request (method, path, query, the body as canonical JSON). Its scope is
   the caller's organisation and user and the route template. A kept row of
   that scope answers at once: its status and body, or 422 naming
   `Idempotency-Key` when the hash differs (nothing runs, nothing is stored).
2. Otherwise the handler runs. The first unit of work it opens inserts the
   key row (no response yet) as its first statement, so the row commits with
   the command's events or not at all. A second request with the key that got
   past step 1 meanwhile fails that insert: on PostgreSQL it waits on the
   unique key until the first transaction ends (then fails if it committed,
   or goes on if it rolled back); on SQLite writers are serialised anyway.
   Its transaction rolls back and it answers the first's result (step 1).
3. After a 1xx-3xx response the web layer writes status and body into the row
   (a request that opened no unit of work gets its row here). A 4xx/5xx
   leaves none: its transaction rolled back with the key row, so a retry
   executes again.

A row without a response is waited on for PENDING_WAIT (the first request is
finishing), then answered 409: its effect committed but its answer was never
kept (the process died between commit and step 3, or the request failed after
its commit). It is never executed twice; the caller checks the record.

Rows are kept `retention` (PRAXIS_IDEMPOTENCY_HOURS, 24): older ones are
ignored, and purged lazily (at most every PURGE_EVERY per store).
"""
import contextvars
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import (
    Column, Index, Integer, LargeBinary, MetaData, String, Table, and_, delete, insert, select,
    update,
)
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from .audit import timestamp
from .errors import Conflict, InvalidInput, PraxisError
from .timeutil import parse_time, utc_now

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
PENDING_WAIT = 10.0       # seconds a row without its response is waited on
PURGE_EVERY = timedelta(minutes=1)

idempotency_metadata = MetaData()

idempotency_keys = Table(
    "idempotency_keys", idempotency_metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("route", String(255), primary_key=True),   # "POST /clients/<uuid:client_id>/payments"
    Column("key", String(MAX_LENGTH), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    # Fixed-width UTC text (audit.timestamp): compares in time order on every engine.
    Column("created_at", String(27), nullable=False),
    Column("status", Integer),                        # null until the response is kept
    Column("content_type", String(255)),
    Column("body", LargeBinary),
    Index("ix_idempotency_keys_created_at", "created_at"),
)


def create_schema(conn):
    idempotency_metadata.create_all(conn)


class KeyInProgress(Conflict):
    code = "idempotency_key_in_progress"


class KeyTaken(PraxisError):
    """The unit of work found the key claimed by a request that committed first:
    the web layer answers that request's result instead."""
    status = 409
    code = "idempotency_key_in_progress"

    def __init__(self, keyed):
        super().__init__(f"a request with this {HEADER} took effect first",
                         {HEADER: ["in progress"]})
        self.keyed = keyed


@dataclass
class Keyed:
    """A request carrying an Idempotency-Key, shared by the web layer and the unit of work."""
    key: str
    organisation_id: str
    user_id: str
    route: str
    request_hash: str
    retention: timedelta
    store: object               # the EventStore its row goes to
    claimed: bool = False       # its row committed with a unit of work
    replayed: bool = False      # answered from a kept row: nothing to keep

    def scope(self):
        table = idempotency_keys.c
        return and_(table.organisation_id == self.organisation_id,
                    table.user_id == self.user_id, table.route == self.route,
                    table.key == self.key)

    def cutoff(self):
        return timestamp(utc_now() - self.retention)


def key_of(headers):
    """The request's key, None without the header; 422 when it is not 1-255 printable ASCII."""
    key = headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_LENGTH or any(not " " <= ch <= "~" for ch in key):
        raise InvalidInput(f"invalid {HEADER}", {
            HEADER: [f"1-{MAX_LENGTH} printable ASCII characters"]})
    return key


def request_hash(method, path, query, body):
    """SHA-256 of what the request asks: the body as canonical JSON when it is JSON,
    so a retry that serialises the same object differently is the same request."""
    try:
        body = json.dumps(json.loads(body or b"null"), sort_keys=True,
                          separators=(",", ":")).encode()
    except ValueError:
        pass
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


# Green threads each see their own (the runtime binds it per worker).
_current = contextvars.ContextVar("praxis_idempotency", default=None)


def bind(keyed):
    _current.set(keyed)


def current():
    return _current.get()


# -- the unit of work's part -------------------------------------------------
def claim(store, conn):
    """The unit of work's first statement: the request's key row, so it commits
    with the command's events. Returns the Keyed (the caller sets `claimed` once
    committed), or None. Raises KeyTaken when a request with the key committed first."""
    keyed = _current.get()
    if keyed is None or keyed.claimed or keyed.store is not store:
        return None
    conn.execute(delete(idempotency_keys).where(
        keyed.scope(), idempotency_keys.c.created_at < keyed.cutoff()))  # expired: reusable
    try:
        conn.execute(insert(idempotency_keys).values(
            organisation_id=keyed.organisation_id, user_id=keyed.user_id, route=keyed.route,
            key=keyed.key, request_hash=keyed.request_hash,
            created_at=timestamp(utc_now())))
    except IntegrityError:
        raise KeyTaken(keyed)
    return keyed


# -- the web layer's part ----------------------------------------------------
def _row(keyed):
    with keyed.store.read() as conn:
        return conn.execute(select(idempotency_keys).where(
            keyed.scope(), idempotency_keys.c.created_at >= keyed.cutoff())).first()


def replay(keyed, taken=False):
    """The kept answer of an earlier request with this key (a Response), or None when
    there is none (then the request runs). 422 for another request with the same
    key; 409 when the earlier one's answer is not kept (see the module's docstring).
    `taken`: the unit of work saw the key committed, so an answer must come."""
    while True:
        row = _row(keyed)
        if row is None:
            if not taken:
                return None
            # Committed, yet gone: expired or purged meanwhile. Not run twice either.
            raise KeyInProgress(f"a request with this {HEADER} took effect; it is not "
                                "repeated", {HEADER: ["already used"]})
        if row.request_hash != keyed.request_hash:
            raise InvalidInput(f"this {HEADER} was used for another request (another "
                               "body or path); use a new key for a new request",
                               {HEADER: ["used for another request"]})
        if row.status is not None:
            keyed.replayed = True
            return Response(row.body, status=row.status, content_type=row.content_type,
                            headers={"Idempotent-Replayed": "true"})
        age = (utc_now() - parse_time(row.created_at)).total_seconds()
        if age > PENDING_WAIT:
            raise KeyInProgress(
                f"a request with this {HEADER} is in progress, or took effect without its "
                "answer being kept; it is not repeated: read the record before sending it "
                "again with a new key", {HEADER: ["in progress"]})
        time.sleep(0.05)


def keep(keyed, response):
    """After the handler: a successful answer is kept for retries. A failure keeps
    nothing (its claim, if any, rolled back; if its effect committed anyway the
    row stays without a response and retries get 409)."""
    if keyed is None or keyed.replayed or response.status_code >= 400:
        return
    values = {"status": response.status_code, "content_type": response.content_type,
              "body": response.get_data()}
    try:
        with keyed.store.write() as conn:
            kept = conn.execute(update(idempotency_keys).where(
                keyed.scope(), idempotency_keys.c.status.is_(None),
                idempotency_keys.c.request_hash == keyed.request_hash).values(**values))
            if not kept.rowcount and not keyed.claimed:  # no unit of work claimed it
                conn.execute(delete(idempotency_keys).where(
                    keyed.scope(), idempotency_keys.c.created_at < keyed.cutoff()))
                try:
                    with conn.begin_nested():  # a concurrent twin may have kept its own
                        conn.execute(insert(idempotency_keys).values(
                            organisation_id=keyed.organisation_id, user_id=keyed.user_id,
                            route=keyed.route, key=keyed.key,
                            request_hash=keyed.request_hash,
                            created_at=timestamp(utc_now()), **values))
                except IntegrityError:
                    pass
        _purge(keyed)
    except Exception:
        # The effect stands; a retry is answered 409 rather than run again.
        log.exception("idempotency key's response not kept")


_last_purge = {}


def _purge(keyed):
    """Expired rows go, at most every PURGE_EVERY per store, in a short transaction
    of their own (never in a command's: no lock waits on unrelated rows there)."""
    now = utc_now()
    last = _last_purge.get(id(keyed.store))
    if last is not None and now - last < PURGE_EVERY:
        return
    _last_purge[id(keyed.store)] = now
    with keyed.store.write() as conn:
        conn.execute(delete(idempotency_keys).where(
            idempotency_keys.c.created_at < keyed.cutoff()))
