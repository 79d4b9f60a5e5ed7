"""End-to-end: the four services as real processes (`python -m shared.runner`)."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shared.config import SERVICES
from tests.support import KEYS, RATE_LIMITS_OFF, SECRET, Api, free_port, token, wait_until

ROOT = Path(__file__).resolve().parents[2]


class Praxis:
    """Four service processes sharing one broker vhost, each with its own database."""

    def __init__(self, amqp_uri, database_urls, log_dir):
        self.env = {**os.environ, "PRAXIS_AMQP_URI": amqp_uri, "PRAXIS_TOKEN_SECRET": SECRET,
                    "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS,
                    "PRAXIS_RETRY_DELAY_MS": "200", "PRAXIS_MAX_ATTEMPTS": "5",
                    "PYTHONUNBUFFERED": "1", **RATE_LIMITS_OFF}
        self.urls = {}
        for service in SERVICES:
            port = free_port()
            self.env[f"PRAXIS_{service.upper()}_PORT"] = str(port)
            self.env[f"PRAXIS_{service.upper()}_DATABASE_URL"] = database_urls[service]
            self.urls[service] = f"http://127.0.0.1:{port}"
        self.log_dir = log_dir
        self.processes = {}

    def start(self, service):
        log = open(self.log_dir / f"{service}.log", "ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", "shared.runner", service], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self._healthy(service), timeout=60, message=f"{service} healthy")

    def stop(self, service):
        process = self.processes.pop(service)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _healthy(self, service):
        process = self.processes[service]
        if process.poll() is not None:
            raise AssertionError(f"{service} exited with {process.returncode}:\n"
                                 + self.log(service))
        try:
            return self.api(service).get("/healthz", bearer="").status_code == 200
        except Exception:
            return False

    def api(self, service, bearer=None):
        return Api(self.urls[service], bearer or token(role="admin", clinics=["*"]))

    def log(self, service):
        path = self.log_dir / f"{service}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def cli(self, *args):
        return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def praxis(request, amqp_uri, tmp_path):
    if request.param == "sqlite":
        urls = {s: f"sqlite:///{tmp_path}/{s}.db" for s in SERVICES}
        cleanup = None
    else:
        base = request.getfixturevalue("postgres_base_uri")
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        names = {s: f"praxis_e2e_{s}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        prefix = base.rsplit("/", 1)[0]
        urls = {s: f"{prefix}/{names[s]}" for s in SERVICES}

        def cleanup():
            with admin.connect() as conn:
                for name in names.values():
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    system = Praxis(amqp_uri, urls, tmp_path)
    try:
        for service in SERVICES:
            system.start(service)
        yield system
    finally:
        for service in list(system.processes):
            system.stop(service)
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            for service in SERVICES:
                print(f"--- {service} log ---\n{system.log(service)}")
        if cleanup:
            cleanup()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
