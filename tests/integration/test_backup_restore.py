"""Backup and restore of a service's PostgreSQL store, as `make backup SERVICE=billing`
and `make restore SERVICE=billing FILE=...` run them (`python -m shared.cli backup|restore`):
a billing fed real events and commands, dumped, restored into a fresh database and
rebuilt there, has the same events and the same read models."""
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text

from services.billing.application import BillingApplication
from shared.caller import Caller
from shared.events import catalogue
from shared.projection import rebuild
from shared.store import EventStore
from tests.integration.test_billing_order_independence import (ADMIN, fresh_billing, feed,
                                                               publish)

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args, database_url):
    env = {**os.environ, "PRAXIS_BILLING_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def state(store):
    with store.read() as conn:
        snapshot = store.projection.snapshot(conn)
    events = [(position, event.to_dict()) for position, event in store.read_all(limit=100000)]
    return snapshot, events


@pytest.fixture
def fresh_url(postgres_base_uri):
    """A database name nobody made yet: restore makes it."""
    name = f"praxis_restore_{uuid.uuid4().hex[:12]}"
    yield f"{postgres_base_uri.rsplit('/', 1)[0]}/{name}"
    admin = create_engine(postgres_base_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_backup_then_restore_into_a_fresh_database_gives_the_same_store(
        postgres_url, fresh_url, tmp_path):
    events, _expected, _names = publish([
        ("insurer", [("session", 45), ("payer", "medicaid"), ("session", 60)]),
        ("self_pay", [("rename", "Ada King"), ("session", 30), ("diagnoses", ["F32.1"])]),
    ])
    with fresh_billing(postgres_url) as (billing, _setup_end):
        feed(billing, events)
        client_id = events[0].data["client_id"]
        billing.receive_payment(Caller(ADMIN.principal, "pay-1"), client_id, {
            "amount_minor": 5000, "currency": "USD", "method": "card"})
        original = state(billing.store)
    assert len(original[1]) > len(events)  # billing's own events too (charges, payment)
    assert original[0]["billing_clients"]

    dump = tmp_path / "billing.dump"
    backup = cli("backup", "billing", "--file", str(dump), database_url=postgres_url)
    assert backup.returncode == 0, backup.stderr
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    restored = cli("restore", "billing", "--file", str(dump), database_url=fresh_url)
    assert restored.returncode == 0, restored.stderr
    assert "rebuilt from" in restored.stdout

    store = EventStore(fresh_url, "billing", catalogue, BillingApplication.projection)
    try:
        assert state(store) == original
        rebuild(store)  # and once more here: the events alone give the same read models
        assert state(store) == original
        # The restored store goes on: the next event's position follows the last.
        again = BillingApplication(fresh_url)  # the restored store, as a service opens it
        try:
            again.receive_payment(Caller(ADMIN.principal, "pay-2"), client_id, {
                "amount_minor": 100, "currency": "USD", "method": "cash"})
            positions = [position for position, _ in again.store.read_all(limit=100000)]
            assert positions[-1] > original[1][-1][0]
        finally:
            again.store.engine.dispose()
    finally:
        store.engine.dispose()

    # A database that is not fresh is refused, and left as it was.
    again = cli("restore", "billing", "--file", str(dump), database_url=fresh_url)
    assert again.returncode == 2 and "not fresh" in again.stderr


def test_backup_refuses_a_sqlite_store(sqlite_url, tmp_path):
    result = cli("backup", "billing", "--file", str(tmp_path / "x.dump"),
                 database_url=sqlite_url)
    assert result.returncode != 0 and "PostgreSQL store" in result.stderr
