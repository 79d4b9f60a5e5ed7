"""ClientErased as each service takes it, on both engines: intake carries the request
out in its own store; scheduling, notes and billing consume intake's published events
(the client registered and assessed), then ClientErased. Afterwards each store's data
key for the client is destroyed, its events stay with every sealed field erased, the
client's read-model rows are gone (billing keeps the amounts), a second ClientErased
changes nothing and a rebuild gives the same state."""
import json
from datetime import date

import pytest
from sqlalchemy import select

from services.billing.application import BillingApplication
from services.intake.application import IntakeApplication
from services.notes.application import NotesApplication
from services.scheduling.application import SchedulingApplication
from shared.auth import ALL_CLINICS, Principal
from shared.caller import Caller
from shared.encryption import ERASED, data_keys_table
from shared.envelope import Event
from shared.projection import rebuild

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Caller(Principal("admin-1", "admin", ORG, (ALL_CLINICS,)), "admin-request")
OFFICER = Caller(Principal("po-1", "privacy_officer", ORG, (ALL_CLINICS,)), "po-request")
CANARY = "Ottoline Vexworth"
CONSUMERS = {"scheduling": SchedulingApplication, "notes": NotesApplication,
             "billing": BillingApplication}
# Billing's amounts stay, so the clinic's totals do (and the marker that it was erased).
KEPT = {"billing": {"charges", "client_balances", "ledger_entries", "invoices", "payments",
                    "billing_erased_clients"}}


def published(application):
    """What intake's relay would send now, and marks it sent."""
    with application.store.write() as conn:
        pending = application.store.pending(conn, 1000)
        application.store.mark_sent(conn, [position for position, _ in pending])
    return [json.loads(envelope) for _, envelope in pending]


def erase_at_intake(intake, monkeypatch):
    client_id = intake.register_client(ADMIN, {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": CANARY,
        "date_of_birth": date(1984, 5, 6), "contact": {"email": "ottoline@example.org"}})["client_id"]
    intake.assess_client(ADMIN, client_id, {"instrument": "PHQ-9", "assessed_at": None,
                                            "answers": [2, 2, 2, 2, 2, 2, 2, 1, 0]})
    before = published(intake)
    monkeypatch.setenv("PRAXIS_ERASURE_DURING_RETENTION", "true")
    intake.request_erasure(OFFICER, client_id, {"legal_basis": "objection",
                                                "reason": f"{CANARY} objects"})
    erasure = published(intake)
    assert [body["type"].split(".")[-2] for body in erasure] == [
        "ClientErasureRequested", "ClientErased"]
    # The reason went with the key before the relay sent it; ClientErased has no
    # personal data at all.
    assert CANARY not in json.dumps(erasure)
    assert set(erasure[1]["data"]) == {"client_id", "request_id", "legal_basis",
                                       "erased_at", "erased_by"}
    return client_id, before, erasure


def rows_of(application, client_id):
    """{table: rows} of the read-model tables holding the client."""
    found = {}
    with application.store.read() as conn:
        for table in application.projection.metadata.sorted_tables:
            if "client_id" in table.c:
                count = len(conn.execute(select(table).where(
                    table.c.client_id == client_id)).all())
                if count:
                    found[table.name] = count
    return found


def key_of(application, client_id):
    with application.store.read() as conn:
        return conn.execute(select(data_keys_table).where(
            data_keys_table.c.client_id == client_id)).one()


def snapshot(application):
    with application.store.read() as conn:
        return application.projection.snapshot(conn)


def test_intake_erases_its_own_store(database_url, monkeypatch):
    intake = IntakeApplication(database_url)
    try:
        client_id, _, _ = erase_at_intake(intake, monkeypatch)
        assert rows_of(intake, client_id) == {}
        assert key_of(intake, client_id).wrapped is None
        registered = intake.store.read_stream(f"client-{client_id}")[0]
        assert registered.data["name"] == ERASED and registered.data["client_id"] == client_id
        erased_state = snapshot(intake)
        rebuild(intake.store)
        assert snapshot(intake) == erased_state
    finally:
        intake.store.engine.dispose()


@pytest.mark.parametrize("service", sorted(CONSUMERS))
def test_a_consumer_shreds_its_key_and_purges_its_rows(service, database_url, tmp_path,
                                                     monkeypatch):
    intake = IntakeApplication(f"sqlite:///{tmp_path}/intake.db")
    consumer = CONSUMERS[service](database_url)
    try:
        client_id, before, erasure = erase_at_intake(intake, monkeypatch)
        for body in before:
            consumer.consume(body)
        held = rows_of(consumer, client_id)
        assert set(held) - KEPT.get(service, set()), "the consumer kept nothing to purge"
        assert key_of(consumer, client_id).wrapped is not None
        assert [consumer.consume(body) for body in erasure] == ["applied", "applied"]
        assert set(rows_of(consumer, client_id)) <= KEPT.get(service, set())
        assert key_of(consumer, client_id).wrapped is None
        kept_events = [e for _, e in consumer.store.read_all()
                       if str(e.data.get("client_id")) == client_id]
        registered = next(e for e in kept_events if e.name == "ClientRegistered")
        assert registered.data["name"] == ERASED
        erased_state = snapshot(consumer)
        assert CANARY not in repr(erased_state)
        # A redelivery, and a second erasure of the same client: nothing changes.
        assert consumer.consume(erasure[1]) == "duplicate"
        again = Event.from_dict(erasure[1])
        with consumer.store.unit_of_work() as uow:
            consumer.projection.apply(uow.conn, again)
            consumer.erase_client(uow, again)
        assert snapshot(consumer) == erased_state
        rebuild(consumer.store)
        assert snapshot(consumer) == erased_state
    finally:
        intake.store.engine.dispose()
        consumer.store.engine.dispose()
