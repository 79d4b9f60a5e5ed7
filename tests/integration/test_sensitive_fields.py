"""Sensitive fields at rest (shared/encryption.py), on both engines: sealed in the
events table under the client's data key, opened for everything that reads the store,
re-wrapped when the key-encryption key rotates, and erased by destroying the key."""
import base64
import os
import uuid

import pytest
from sqlalchemy import select, text

from shared.encryption import ERASED, SEALED, KeyEncryptionKeys, KeyProblem, data_keys_table
from shared.envelope import Context, NewEvent
from shared.events import catalogue
from shared.store import EventStore, events_table

pytestmark = pytest.mark.integration

CONTEXT = Context("org-1", "clinic-1")
CANARY = "Zebulon Quillfeather"  # a name no fixture uses: found means leaked


def _keks(*ids):
    return KeyEncryptionKeys({kek_id: os.urandom(32) for kek_id in ids})


def registered(client_id, name=CANARY):
    return NewEvent("ClientRegistered", {
        "client_id": client_id, "name": name, "date_of_birth": "1987-03-14",
        "contact": {"email": "zebulon@example.org", "phone": "+1 555 0199"},
        "payer": {"kind": "insurer", "insurer_name": "Acme Health", "member_id": "MBR-77Q1"},
        "registered_at": "2026-01-01T09:00:00Z"})


def assessed(client_id):
    return NewEvent("ClientAssessed", {
        "client_id": client_id, "assessment_id": str(uuid.uuid4()), "instrument": "PHQ-9",
        "kind": "initial", "answers": [3, 2, 3, 1, 2, 3, 0, 1, 2], "total": 17,
        "severity": "moderately severe", "change": None,
        "assessed_at": "2026-01-02T09:00:00Z"})


def _store(url, keks, service="intake"):
    store = EventStore(url, service, catalogue, keks=keks)
    store.create_schema()
    return store


@pytest.fixture
def keks():
    return _keks("k1")


@pytest.fixture
def store(database_url, keks):
    store = _store(database_url, keks)
    yield store
    store.engine.dispose()


def _stored_text(store):
    """Everything the events table holds, as one string (what a dump would show)."""
    with store.read() as conn:
        return "\n".join(conn.execute(select(events_table.c.envelope)).scalars())


def _register(store, client_id, *more):
    with store.unit_of_work() as uow:
        return uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id), *more])


def test_sensitive_fields_are_sealed_at_rest_and_open_for_readers(store):
    client_id = str(uuid.uuid4())
    appended = _register(store, client_id, assessed(client_id))
    stored = _stored_text(store)
    for secret in (CANARY, "1987-03-14", "zebulon@example.org", "MBR-77Q1", "[3,2,3,1"):
        assert secret not in stored
    assert stored.count(SEALED) == 5  # name, date of birth, contact, payer; answers
    assert client_id in stored and '"total":17' in stored  # ids and scores stay readable
    # Every reader of the store sees what was appended.
    assert [e.to_json() for e in store.read_stream(f"client-{client_id}")] == \
        [e.to_json() for e in appended]
    assert [e.to_json() for _, e in store.read_all()] == [e.to_json() for e in appended]
    with store.read() as conn:
        published = [envelope for _, envelope in store.pending(conn, 10)]
    assert CANARY in published[0] and '"answers":[3,2,3,1,2,3,0,1,2]' in published[1]


def test_a_consumer_seals_what_it_receives_under_its_own_key(store, tmp_path):
    client_id = str(uuid.uuid4())
    (event,) = _register(store, client_id)
    billing = _store(f"sqlite:///{tmp_path}/billing.db", _keks("billing-1"), "billing")
    with billing.unit_of_work() as uow:
        assert uow.record_foreign(event) == "applied"
    assert CANARY not in _stored_text(billing)
    with billing.read() as conn:
        assert conn.execute(select(data_keys_table.c.kek_id)).scalars().all() == ["billing-1"]
    (kept,) = billing.read_stream(f"intake/{event.subject}")
    assert kept.to_json() == event.to_json()


def test_rotating_the_key_encryption_key_rewraps_data_keys_without_rewriting_events(
        database_url, keks, store):
    client_id = str(uuid.uuid4())
    _register(store, client_id)
    before = _stored_text(store)
    rotated = KeyEncryptionKeys({"k2": os.urandom(32), **keks._keys})  # k2 first: current
    new_store = _store(database_url, rotated)
    with new_store.write() as conn:
        assert new_store.keyring.rewrap_all(conn) == 1
        assert new_store.keyring.rewrap_all(conn) == 0  # idempotent
    with new_store.read() as conn:
        assert conn.execute(select(data_keys_table.c.kek_id)).scalars().all() == ["k2"]
    assert _stored_text(new_store) == before  # no event rewritten
    only_new = _store(database_url, KeyEncryptionKeys({"k2": rotated._keys["k2"]}))
    assert only_new.read_stream(f"client-{client_id}")[0].data["name"] == CANARY
    only_old = _store(database_url, keks)
    with pytest.raises(KeyProblem, match="not configured"):
        only_old.read_stream(f"client-{client_id}")


def test_erasing_a_client_destroys_the_key_and_every_sealed_field_reads_erased(store):
    client_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    _register(store, client_id, assessed(client_id))
    _register(store, other_id)
    with store.write() as conn:
        store.erase_client(conn, client_id)
    registration, assessment = store.read_stream(f"client-{client_id}")
    assert registration.data["name"] == ERASED and registration.data["payer"] == ERASED
    assert assessment.data["answers"] == ERASED
    assert (registration.data["client_id"], assessment.data["total"]) == (client_id, 17)
    assert store.read_stream(f"client-{other_id}")[0].data["name"] == CANARY
    # A later event of the erased client (a late delivery) is stored erased, never plain.
    with store.unit_of_work() as uow:
        uow.append(f"client-{client_id}", 2, CONTEXT, [NewEvent("ClientDetailsUpdated", {
            "client_id": client_id, "changes": {"name": "Z. Q."},
            "updated_at": "2026-01-03T09:00:00Z"})])
    assert "Z. Q." not in _stored_text(store)
    assert store.read_stream(f"client-{client_id}")[2].data["changes"] == ERASED


def test_a_sealed_field_moved_to_another_event_does_not_open(store):
    first = str(uuid.uuid4())
    _register(store, first)
    with store.write() as conn:
        rows = conn.execute(select(events_table.c.position, events_table.c.envelope)).all()
        (position, envelope), = rows
        # Same client, another event id: each field is bound to its event.
        forged = envelope.replace(f'"{rows_id(envelope)}"', f'"{uuid.uuid4()}"', 1)
        conn.execute(events_table.update().where(events_table.c.position == position)
                     .values(envelope=forged))
    with pytest.raises(KeyProblem, match="does not open"):
        store.read_stream(f"client-{first}")


def rows_id(envelope):
    import json

    return json.loads(envelope)["id"]


def test_a_key_made_in_a_rolled_back_unit_of_work_is_not_kept(store):
    client_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        with store.unit_of_work() as uow:
            uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id)])
            store.read_stream(f"client-{client_id}", conn=uow.conn)  # reads in the write
            raise RuntimeError("the command failed after appending")
    _register(store, client_id)
    assert store.read_stream(f"client-{client_id}")[0].data["name"] == CANARY
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM data_keys")).scalar() == 1


def test_the_key_encryption_keys_parse_from_configuration():
    key = base64.b64encode(os.urandom(32)).decode()
    ring = KeyEncryptionKeys.parse(f"new:{key}, old:{key}")
    assert (ring.current_id, ring.ids) == ("new", ("new", "old"))
    for bad in ("", "k1", f"k1:{key[:-4]}", "k1:***"):
        with pytest.raises(KeyProblem):
            KeyEncryptionKeys.parse(bad)


def test_make_rotate_keys_rewraps_each_services_store(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    url = f"sqlite:///{tmp_path}/intake.db"
    store = _store(url, KeyEncryptionKeys.parse(f"old:{old}"))
    client_id = str(uuid.uuid4())
    _register(store, client_id)
    env = {**os.environ, "PRAXIS_INTAKE_DATABASE_URL": url,
           "PRAXIS_KEY_ENCRYPTION_KEYS": f"new:{new},old:{old}"}
    result = subprocess.run([sys.executable, "-m", "shared.cli", "rotate-keys", "intake"],
                            cwd=Path(__file__).resolve().parents[2], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "intake: 1 data keys re-wrapped under new"
    rotated = _store(url, KeyEncryptionKeys.parse(f"new:{new}"))  # the old key dropped
    assert rotated.read_stream(f"client-{client_id}")[0].data["name"] == CANARY
