"""A release that changed intake's read models, started as a real process
(`python -m shared.runner intake`): live at once, not ready while it rebuilds,
appends by the running release go on; killed mid-way it leaves the live tables,
and the next start rebuilds them, with every event appended meanwhile."""
import os
import signal
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import select, update

from services.intake import domain
from services.intake.application import IntakeApplication
from shared.envelope import Context
from shared.projection import rebuild
from shared.store import read_model_schema_table
from tests.support import KEYS, RATE_LIMITS_OFF, SECRET, Api, free_port, token, wait_until

from .conftest import ROOT

pytestmark = pytest.mark.e2e

CONTEXT = Context("org-1", "clinic-1")


def register(store, count, per_transaction=100):
    """Clients registered as the running release does (its events, its read models)."""
    ids = []
    for start in range(0, count, per_transaction):
        with store.unit_of_work() as uow:
            for _ in range(min(per_transaction, count - start)):
                client_id = str(uuid.uuid4())
                uow.append(domain.Client.stream_of(client_id), 0, CONTEXT, domain.register(
                    client_id, str(uuid.uuid4()),
                    {"name": "Ada Lovelace", "date_of_birth": "1990-01-02",
                     "contact": {"email": "ada@example.org"},
                     "primary_clinician_id": "user-1"}, "2026-01-01T09:00:00Z"))
                ids.append(client_id)
    return ids


def fingerprint(store):
    with store.read() as conn:
        return conn.execute(select(read_model_schema_table.c.fingerprint)).scalar()


class Intake:
    def __init__(self, database_url, amqp_uri, log):
        port = free_port()
        self.env = {**os.environ, "PRAXIS_AMQP_URI": amqp_uri, "PRAXIS_TOKEN_SECRET": SECRET,
                    "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS, "PRAXIS_INTAKE_PORT": str(port),
                    "PRAXIS_INTAKE_DATABASE_URL": database_url,
                    "PYTHONUNBUFFERED": "1", **RATE_LIMITS_OFF}
        self.api = Api(f"http://127.0.0.1:{port}", token(role="admin", clinics=["*"]))
        self.log = log

    def start(self):
        self.process = subprocess.Popen([sys.executable, "-m", "shared.runner", "intake"],
                                        cwd=ROOT, env=self.env, stdout=open(self.log, "ab"),
                                        stderr=subprocess.STDOUT)

    def get(self, path):
        assert self.process.poll() is None, open(self.log).read()[-3000:]
        try:
            return self.api.get(path, bearer="")
        except Exception:
            return None


def test_rebuild_at_start_as_a_process(database_url, amqp_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("PRAXIS_KEY_ENCRYPTION_KEYS", KEYS)  # the process's keys
    running = IntakeApplication(database_url)  # the running release, and its store
    store = running.store
    register(store, 3000)  # 6,000 events
    with store.write() as conn:
        conn.execute(update(read_model_schema_table).values(fingerprint="older release"))
    intake = Intake(database_url, amqp_uri, tmp_path / "intake.log")
    intake.start()
    try:
        def rebuilding():
            ready = intake.get("/readyz")
            return ready is not None and ready.status_code == 503 and \
                ready.json().get("read_models", "").startswith("rebuilding: ") and \
                not ready.json()["read_models"].startswith("rebuilding: 0 of")
        wait_until(rebuilding, timeout=60, message="intake rebuilding")
        assert intake.get("/livez").status_code == 200
        during = register(store, 20, per_transaction=5)  # appends go on meanwhile
        assert intake.get("/livez").status_code == 200
        assert intake.api.get(f"/clients/{during[0]}").status_code == 503
        intake.process.send_signal(signal.SIGKILL)
        intake.process.wait()
        assert fingerprint(store) == "older release"  # the live tables untouched

        intake.start()  # the next start rebuilds again
        def ready():
            answer = intake.get("/readyz")
            return answer is not None and answer.status_code == 200
        wait_until(ready, timeout=300, message="intake ready after its rebuild")
        assert fingerprint(store) == running.projection.fingerprint()
        for client_id in (during[0], during[-1]):
            answer = intake.api.get(f"/clients/{client_id}")
            assert answer.status_code == 200, answer.text
    finally:
        if intake.process.poll() is None:
            intake.process.terminate()
            intake.process.wait()
    # What the process swapped in is what a replay of every event gives.
    with store.read() as conn:
        swapped = running.projection.snapshot(conn)
    assert rebuild(store) == 6040
    with store.read() as conn:
        assert running.projection.snapshot(conn) == swapped
    store.engine.dispose()

