"""Sensitive fields at rest: envelope encryption with a data key per client.

Each service's store keeps, per client, a data key (AES-256-GCM) in its
`data_keys` table, wrapped by a key-encryption key (KEK) that comes from
configuration (a Kubernetes Secret), never from the database. A dump or a backup
of the store therefore reads as ciphertext. Each wrapped key carries the id of
the KEK that wrapped it, so a new KEK is rolled in by re-wrapping the data keys
(`make rotate-keys`) without rewriting one event.

Which data fields are sensitive is declared with the event (shared/events/,
`sensitive=`). The store seals them when it writes an envelope and opens them
when it reads one, so read models, reactions, the relay and /events see plain
values, and a consumer stores what it receives under its own keys.

Destroying a client's data key (erasure by crypto-shredding) leaves every sealed
field of that client reading as ERASED while ids, times, codes and amounts stay.
"""
import base64
import binascii
import hashlib
import json
import os
import threading
import time
import weakref

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, select

SEALED = "praxis:sealed:v1:"  # the prefix of a sealed field in a stored envelope
ERASED = "[erased]"           # what a sealed field of an erased client reads as
NONCE_BYTES = 12
KEY_BYTES = 32
# Built in for development and tests only: shared/config.py refuses it elsewhere.
DEV_KEY_ENCRYPTION_KEYS = "dev:" + base64.b64encode(
    hashlib.sha256(b"praxis-development-key-encryption-key").digest()).decode()

metadata = MetaData()
data_keys_table = Table(
    "data_keys", metadata,
    Column("client_id", String(64), primary_key=True),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped", LargeBinary, nullable=True),  # None once the client was erased
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
)


class KeyProblem(Exception):
    """A configuration or key problem (not an input error)."""


class KeyEncryptionKeys:
    """The KEKs from configuration: the first wraps new data keys, every one listed
    unwraps. A KMS plugs in by offering the same three members (current_id, wrap,
    unwrap)."""

    def __init__(self, keys):
        if not keys:
            raise KeyProblem("no key-encryption key is configured")
        self._keys = dict(keys)
        self.current_id = next(iter(self._keys))

    @classmethod
    def parse(cls, spec):
        """'id1:base64key,id2:base64key' (32-byte keys; the first is current)."""
        keys = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kek_id, _, encoded = part.partition(":")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyProblem(f"key-encryption key {kek_id!r} is not base64")
            if not kek_id or len(key) != KEY_BYTES:
                raise KeyProblem(f"key-encryption key {kek_id!r} must be an id and "
                                f"{KEY_BYTES} bytes of base64")
            keys[kek_id] = key
        return cls(keys)

    @property
    def ids(self):
        return tuple(self._keys)

    def wrap(self, data_key, client_id):
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[self.current_id]).encrypt(
            nonce, data_key, _wrap_aad(client_id))
        return self.current_id, nonce + sealed

    def unwrap(self, kek_id, wrapped, client_id):
        key = self._keys.get(kek_id)
        if key is None:
            raise KeyProblem(f"the data key of client {client_id} is wrapped by "
                            f"key-encryption key {kek_id!r}, which is not configured")
        return AESGCM(key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                   _wrap_aad(client_id))


def _wrap_aad(client_id):
    return f"praxis-data-key/{client_id}".encode()


def _field_aad(event_id, name):
    # Bound to its event and field: a sealed value moved elsewhere does not open.
    return f"{event_id}/{name}".encode()


class Keyring:
    """The data keys of one store, cached for a short while (another replica may
    erase a client: it is seen within CACHE_SECONDS)."""

    CACHE_SECONDS = 60.0

    def __init__(self, keks):
        self.keks = keks
        self._cache = {}  # client_id -> (data key or None when erased, fetched at)
        self._made = weakref.WeakKeyDictionary()  # connection -> client ids keyed in it
        self._lock = threading.Lock()

    def _cached(self, client_id):
        with self._lock:
            found = self._cache.get(client_id)
        if found is not None and time.monotonic() - found[1] < self.CACHE_SECONDS:
            return found
        return None

    def _remember(self, conn, client_id, key):
        # A key made in a transaction not yet committed may be rolled back: it must
        # not outlive its row here (the next reader after the commit caches it).
        if client_id in self._made.get(conn, ()):
            return
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[client_id] = (key, time.monotonic())

    def key_for_writing(self, conn, client_id, now):
        """The client's data key, made on first use (inside the caller's transaction,
        which holds the store's append lock). None when the client was erased."""
        return self._key(conn, client_id, make_at=now)

    def key_for_reading(self, conn, client_id):
        return self._key(conn, client_id)

    def _key(self, conn, client_id, make_at=None):
        found = self._cached(client_id)
        if found is not None:
            return found[0]
        row = conn.execute(select(data_keys_table).where(
            data_keys_table.c.client_id == client_id)).first()
        if row is not None:
            return self._unwrapped(conn, client_id, row)
        if make_at is None:
            raise KeyProblem(f"no data key for client {client_id} in this store: its "
                             "data_keys table is missing rows (restored without them?)")
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        kek_id, wrapped = self.keks.wrap(key, client_id)
        conn.execute(data_keys_table.insert().values(
            client_id=client_id, kek_id=kek_id, wrapped=wrapped, created_at=make_at))
        self._made.setdefault(conn, set()).add(client_id)
        return key

    def _unwrapped(self, conn, client_id, row):
        key = None if row.wrapped is None else self.keks.unwrap(row.kek_id, row.wrapped,
                                                                  client_id)
        self._remember(conn, client_id, key)
        return key

    def forget(self, client_id=None):
        with self._lock:
            if client_id is None:
                self._cache.clear()
            else:
                self._cache.pop(client_id, None)

    # -- fields -----------------------------------------------------------------
    @staticmethod
    def seal_value(key, event_id, name, value):
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(value, separators=(",", ":")).encode()
        sealed = AESGCM(key).encrypt(nonce, plain, _field_aad(event_id, name))
        return SEALED + base64.b64encode(nonce + sealed).decode()

    @staticmethod
    def open_value(key, event_id, name, value):
        if key is None:
            return ERASED
        raw = base64.b64decode(value[len(SEALED):])
        try:
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                        _field_aad(event_id, name))
        except InvalidTag:
            raise KeyProblem(f"field {name} of event {event_id} does not open with its "
                            "client's data key (altered, or moved from another event)")
        return json.loads(plain)

    # -- keys -----------------------------------------------------------------
    def rewrap_all(self, conn):
        """Re-wrap every data key not under the current KEK; returns how many."""
        count = 0
        rows = conn.execute(select(data_keys_table).where(
            data_keys_table.c.wrapped.is_not(None),
            data_keys_table.c.kek_id != self.keks.current_id)).all()
        for row in rows:
            key = self.keks.unwrap(row.kek_id, row.wrapped, row.client_id)
            kek_id, wrapped = self.keks.wrap(key, row.client_id)
            conn.execute(data_keys_table.update()
                         .where(data_keys_table.c.client_id == row.client_id)
                         .values(kek_id=kek_id, wrapped=wrapped))
            count += 1
        return count

    def destroy(self, conn, client_id, now):
        """Crypto-shred: the client's data key is gone, its sealed fields read ERASED.
        A row stays (wrapped None) so a later event cannot make a fresh key for them."""
        updated = conn.execute(data_keys_table.update()
                               .where(data_keys_table.c.client_id == client_id)
                               .values(wrapped=None, erased_at=now)).rowcount
        if not updated:
            conn.execute(data_keys_table.insert().values(
                client_id=client_id, kek_id=self.keks.current_id, wrapped=None,
                created_at=now, erased_at=now))
        self.forget(client_id)


def is_sealed(value):
    return isinstance(value, str) and value.startswith(SEALED)

