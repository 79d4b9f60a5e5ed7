"""The audit trail of access: one row per request, changes' rows committed with
their events, the hash chain and its verification, the privacy officer's queries."""
import csv
import io
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import delete, func, insert, select, update

from services.intake.service import Service as Intake
from shared import audit
from shared.audit import audit_head, audit_trail
from shared.envelope import Context, NewEvent
from shared.errors import Conflict
from shared.events import catalogue
from shared.store import EventStore, events_table
from tests.support import RunningService, token

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# The default token's clinician (user-1) is the primary clinician: in the care team.
CLIENT = {"organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada Lovelace",
          "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
          "primary_clinician_id": "user-1"}


# -- the chain, on the store alone --------------------------------------------
@pytest.fixture
def store(database_url):
    store = EventStore(database_url, "intake", catalogue)
    store.create_schema()
    yield store
    store.engine.dispose()


def an_access(store, client_id=None, user="user-1"):
    access = audit.Access("GET /clients/<uuid:client_id>", "read", str(uuid.uuid4()), "client",
                          user, "clinician", "org-1", "clinic-1",
                          client_id or str(uuid.uuid4()))
    access.store = store
    return access


def fill(store, count=5):
    for _ in range(count):
        audit.record_request(an_access(store), "allowed", 200)


def verify_cli(database_url):
    env = {**os.environ, "PRAXIS_INTAKE_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "shared.cli", "audit-verify", "intake"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_an_intact_chain_verifies(store, database_url):
    fill(store)
    assert audit.verify(store.engine) == (5, None)
    result = verify_cli(database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intake: 5 rows, chain intact" in result.stdout


def test_an_updated_field_is_caught(store, database_url):
    fill(store)
    with store.write() as conn:
        conn.execute(update(audit_trail).where(audit_trail.c.seq == 3).values(user_id="someone"))
    count, problem = audit.verify(store.engine)
    assert count == 2 and problem.startswith("row 3:") and "altered" in problem
    result = verify_cli(database_url)
    assert result.returncode == 1 and "intake: row 3:" in result.stdout


def test_a_deleted_middle_row_is_caught(store, database_url):
    fill(store)
    with store.write() as conn:
        conn.execute(delete(audit_trail).where(audit_trail.c.seq == 3))
    count, problem = audit.verify(store.engine)
    assert count == 2 and problem.startswith("row 3: missing") and "deleted" in problem
    assert verify_cli(database_url).returncode == 1


def test_a_forged_row_is_caught_even_with_a_correct_hash(store, database_url):
    fill(store)
    with store.read() as conn:
        last = conn.execute(select(audit_trail).where(audit_trail.c.seq == 5)).mappings().one()
    forged = {**last, "seq": 6, "user_id": "nobody", "prev_hash": last["hash"]}
    forged["hash"] = audit.digest(forged)
    with store.write() as conn:
        conn.execute(insert(audit_trail).values(**forged))
    count, problem = audit.verify(store.engine)
    assert count == 5 and problem.startswith("row 6:") and "inserted" in problem
    result = verify_cli(database_url)
    assert result.returncode == 1 and "intake: row 6:" in result.stdout


def test_a_replaced_row_is_caught(store):
    """A forged row in place of a deleted one (seq reused, its own hash correct)."""
    fill(store)
    with store.read() as conn:
        row = conn.execute(select(audit_trail).where(audit_trail.c.seq == 2)).mappings().one()
    forged = {**row, "seq": 3, "client_id": str(uuid.uuid4()), "prev_hash": row["hash"]}
    forged["hash"] = audit.digest(forged)
    with store.write() as conn:
        conn.execute(delete(audit_trail).where(audit_trail.c.seq == 3))
        conn.execute(insert(audit_trail).values(**forged))
    count, problem = audit.verify(store.engine)
    assert problem.startswith("row 4: does not follow row 3") and count == 3


def test_a_truncated_tail_is_caught(store):
    fill(store)
    with store.write() as conn:
        conn.execute(delete(audit_trail).where(audit_trail.c.seq >= 4))
    count, problem = audit.verify(store.engine)
    assert count == 3 and problem.startswith("row 4: missing") and "truncated" in problem


def test_concurrent_writers_never_fork_the_chain(store, database_url):
    """Eight writers over two stores (two replicas' engines) on one database."""
    replica = EventStore(database_url, "intake", catalogue)
    errors = []

    def write(into):
        try:
            fill(into, 5)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(store if n % 2 else replica,))
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replica.engine.dispose()
    assert errors == []
    assert audit.verify(store.engine) == (40, None)
    with store.read() as conn:
        seqs = conn.execute(select(audit_trail.c.seq).order_by(audit_trail.c.seq)).scalars().all()
        assert seqs == list(range(1, 41))
        assert conn.execute(select(audit_head.c.seq)).scalar() == 40


def registered(client_id):
    return NewEvent("ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": None, "phone": None}, "registered_at": "2026-01-01T09:00:00Z"})


def test_a_change_row_commits_with_its_events_or_not_at_all(store):
    access = audit.Access("POST /clients", "change", "corr-1", "client", "user-1",
                          "front_desk", "org-1")
    access.store = store
    audit.bind(access)
    try:
        client_id = str(uuid.uuid4())
        with pytest.raises(Conflict):
            with store.unit_of_work() as uow:
                uow.append(f"client-{client_id}", 0, Context("org-1", "clinic-1", "corr-1"),
                           [registered(client_id)])
                raise Conflict("refused after the append")
        assert not access.recorded
        with store.read() as conn:
            assert conn.execute(select(func.count()).select_from(audit_trail)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(events_table)).scalar() == 0

        with store.unit_of_work() as uow:
            uow.append(f"client-{client_id}", 0, Context("org-1", "clinic-1", "corr-1"),
                       [registered(client_id)])
        assert access.recorded
        audit.record_request(access, "allowed", 201)  # once per access: no second row
    finally:
        audit.bind(None)
    with store.read() as conn:
        (row,) = conn.execute(select(audit_trail)).mappings().all()
    assert row["client_id"] == client_id and row["clinic_id"] == "clinic-1"
    assert row["outcome"] == "allowed" and row["status"] is None and row["action"] == "change"
    assert row["break_glass"] is False


# -- through the HTTP and RPC entrypoints -------------------------------------
@pytest.fixture
def intake(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as running:
        yield running


def rows_of(running, **where):
    query = select(audit_trail).order_by(audit_trail.c.seq)
    for name, value in where.items():
        query = query.where(audit_trail.c[name] == value)
    with running.application.store.read() as conn:
        return conn.execute(query).mappings().all()


def test_one_row_per_request_with_ids_only(intake, database_url, amqp_uri):
    api = intake.api
    created = api.post("/clients", CLIENT, headers={"X-Correlation-Id": "register"})
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]

    # The change's row names the client (from its events) and commits with them.
    (row,) = rows_of(intake, correlation_id="register")
    assert (row["client_id"], row["clinic_id"], row["action"], row["outcome"]) == (
        client_id, "clinic-1", "change", "allowed")
    assert row["route"] == "POST /clients" and row["user_id"] == "user-1"
    assert row["role"] == "clinician" and row["organisation_id"] == "org-1"
    assert {e.correlationid for _, e in intake.application.store.read_all()} == {"register"}

    for n in range(3):
        assert api.get(f"/clients/{client_id}",
                       headers={"X-Correlation-Id": f"read-{n}"}).status_code == 200
    for n in range(3):
        (row,) = rows_of(intake, correlation_id=f"read-{n}")
        assert (row["client_id"], row["clinic_id"], row["action"], row["outcome"],
                row["status"]) == (client_id, "clinic-1", "read", "allowed", 200)
        assert row["route"] == "GET /clients/<uuid:client_id>"

    # Refused and failed requests leave a row too; a failed change leaves no events.
    other_org = token(org="org-2", clinics=["*"], user="stranger")
    assert api.get(f"/clients/{client_id}", bearer=other_org,
                   headers={"X-Correlation-Id": "stranger"}).status_code == 404
    (row,) = rows_of(intake, correlation_id="stranger")
    assert (row["outcome"], row["status"], row["organisation_id"], row["user_id"]) == (
        "not_found", 404, "org-2", "stranger")
    front_desk = token(role="front_desk", user="desk-1")
    assert api.post(f"/clients/{client_id}/assessments",
                    {"instrument": "PHQ-9", "answers": [0] * 9}, bearer=front_desk,
                    headers={"X-Correlation-Id": "desk"}).status_code == 403
    (row,) = rows_of(intake, correlation_id="desk")
    assert (row["outcome"], row["status"], row["client_id"]) == ("denied", 403, client_id)

    assert api.post(f"/clients/{client_id}/discharge",
                    {"reason": "planned_ending"}).status_code == 200
    events_before = len(intake.application.store.read_all())
    again = api.post(f"/clients/{client_id}/discharge", {"reason": "planned_ending"},
                     headers={"X-Correlation-Id": "twice"})
    assert again.status_code == 409, again.text
    assert len(intake.application.store.read_all()) == events_before
    (row,) = rows_of(intake, correlation_id="twice")
    assert (row["outcome"], row["status"], row["action"]) == ("failed", 409, "change")

    # An RPC read is audited like an HTTP one (by a clinician of the care team).
    assert api.post(f"/clients/{client_id}/care-team", {"clinician_id": "rpc-user"},
                    bearer=token(role="admin", user="admin-1")).status_code == 201
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as rpc:
        assert rpc.intake.client(token(user="rpc-user"), client_id)["client_id"] == client_id
    (row,) = rows_of(intake, user_id="rpc-user")
    assert (row["route"], row["client_id"], row["outcome"]) == (
        "rpc intake.client", client_id, "allowed")

    # Ids only: the client's name and contact never reach the trail.
    trail = repr([dict(r) for r in rows_of(intake)])
    assert "Lovelace" not in trail and "Ada" not in trail and "example.org" not in trail

    # Unauthenticated and public requests touch nothing and leave no row.
    count = len(rows_of(intake))
    assert api.get(f"/clients/{client_id}", bearer="").status_code == 401
    assert api.get("/metrics", bearer="").status_code == 200
    assert len(rows_of(intake)) == count

    # Every row was chained: the verify command finds the chain intact, then a tamper.
    assert audit.verify(intake.application.store.engine) == (count, None)
    with intake.application.store.write() as conn:
        conn.execute(update(audit_trail).where(audit_trail.c.correlation_id == "read-1")
                     .values(outcome="denied"))
    seq = rows_of(intake, correlation_id="read-1")[0]["seq"]
    result = verify_cli(database_url)
    assert result.returncode == 1 and f"intake: row {seq}:" in result.stdout


def test_the_privacy_officer_asks_who_looked_and_what_a_user_looked_at(intake):
    api = intake.api
    # reader-1 is their primary clinician; user-1 registers them.
    client_id = api.post("/clients", {**CLIENT, "primary_clinician_id": "reader-1"}
                         ).json()["client_id"]
    other_id = api.post("/clients", {**CLIENT, "name": "Grace Hopper",
                                     "primary_clinician_id": "reader-1"}).json()["client_id"]
    reader = token(user="reader-1")
    for _ in range(3):
        assert api.get(f"/clients/{client_id}", bearer=reader).status_code == 200
    assert api.get(f"/clients/{other_id}/outcomes", bearer=reader).status_code == 200

    officer = token(role="privacy_officer", clinics=["*"], user="officer-1")
    who = api.get("/audit/accesses", params={"client_id": client_id}, bearer=officer)
    assert who.status_code == 200, who.text
    rows = who.json()["accesses"]
    assert [(r["user_id"], r["action"]) for r in rows] == [
        ("user-1", "change")] + [("reader-1", "read")] * 3
    assert all(r["service"] == "intake" and r["client_id"] == client_id for r in rows)
    assert "prev_hash" not in rows[0] and "hash" not in rows[0]

    what = api.get("/audit/accesses", params={"user_id": "reader-1"}, bearer=officer).json()
    assert [r["client_id"] for r in what["accesses"]] == [client_id] * 3 + [other_id]
    assert what["next_cursor"] is None

    # A period, and pages.
    first, last = rows[0]["recorded_at"], rows[-1]["recorded_at"]
    period = api.get("/audit/accesses", bearer=officer, params={
        "client_id": client_id, "from": rows[1]["recorded_at"], "to": last}).json()
    assert [r["seq"] for r in period["accesses"]] == [r["seq"] for r in rows[1:3]]
    assert api.get("/audit/accesses", bearer=officer, params={
        "client_id": client_id, "to": first}).json()["accesses"] == []
    page = api.get("/audit/accesses", bearer=officer,
                   params={"user_id": "reader-1", "limit": 3}).json()
    assert len(page["accesses"]) == 3 and page["next_cursor"] is not None
    rest = api.get("/audit/accesses", bearer=officer, params={
        "user_id": "reader-1", "limit": 3, "cursor": page["next_cursor"]}).json()
    assert [r["client_id"] for r in rest["accesses"]] == [other_id]

    # CSV, by Accept or by format=csv.
    for kwargs in ({"headers": {"Accept": "text/csv"}, "params": {"client_id": client_id}},
                   {"params": {"client_id": client_id, "format": "csv"}}):
        response = api.get("/audit/accesses", bearer=officer, **kwargs)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith(
            "text/csv")
        table = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["user_id"] for r in table] == ["user-1"] + ["reader-1"] * 3
        assert list(table[0]) == audit.CSV_COLUMNS

    # Only privacy officers and admins, only of their own organisation.
    assert api.get("/audit/accesses", params={"client_id": client_id},
                   bearer=reader).status_code == 403
    assert api.get("/audit/accesses", params={"client_id": client_id},
                   bearer=token(role="admin", clinics=["*"])).status_code == 200
    stranger = token(role="privacy_officer", org="org-2", clinics=["*"])
    assert api.get("/audit/accesses", params={"client_id": client_id},
                   bearer=stranger).json()["accesses"] == []
    clinic_officer = token(role="privacy_officer", clinics=["clinic-1"])
    assert len(api.get("/audit/accesses", params={"client_id": client_id},
                       bearer=clinic_officer).json()["accesses"]) == 4
    other_clinic = token(role="privacy_officer", clinics=["clinic-2"])
    assert api.get("/audit/accesses", params={"client_id": client_id},
                   bearer=other_clinic).json()["accesses"] == []
    assert api.get("/audit/accesses", bearer=officer).status_code == 422

    # The officer's own queries are accesses too, touching no client.
    mine = rows_of(intake, user_id="officer-1")
    assert mine and all(r["client_id"] is None and r["resource"] == "audit" for r in mine)


def test_billing_balance_over_rpc_is_audited(database_url, amqp_uri):
    from services.billing.service import Service as Billing

    with RunningService(Billing, database_url, amqp_uri) as billing:
        client_id = str(uuid.uuid4())  # billing has never heard of it
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as rpc:
            with pytest.raises(RemoteError) as refused:
                rpc.billing.balance(token(role="billing", user="biller-1"), client_id)
        assert refused.value.exc_type == "NotFound"
        (row,) = rows_of(billing, user_id="biller-1")
        assert (row["route"], row["client_id"], row["action"], row["outcome"], row["role"]) == (
            "rpc billing.balance", client_id, "read", "not_found", "billing")
        assert audit.verify(billing.application.store.engine) == (1, None)


def test_a_read_that_cannot_be_recorded_is_not_answered(intake):
    client_id = intake.api.post("/clients", CLIENT).json()["client_id"]
    with intake.application.store.write() as conn:
        audit_head.drop(conn)  # every append needs the head row
    response = intake.api.get(f"/clients/{client_id}")
    assert response.status_code == 500 and "Lovelace" not in response.text
