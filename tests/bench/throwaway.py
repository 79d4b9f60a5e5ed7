"""Throwaway places to measure in: a RabbitMQ vhost and databases, dropped afterwards."""
import os
import tempfile
import uuid
from contextlib import contextmanager
from urllib.parse import quote, urlparse

import requests
from sqlalchemy import create_engine, text

AMQP = os.environ.get("PRAXIS_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES = os.environ.get("PRAXIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def vhost():
    """Yield the AMQP URI of a new vhost, deleted on the way out."""
    parsed = urlparse(AMQP)
    api, auth = f"http://{parsed.hostname}:15672/api", (parsed.username, parsed.password)
    name = f"praxis-bench-{uuid.uuid4().hex[:8]}"
    requests.put(f"{api}/vhosts/{name}", auth=auth, timeout=5).raise_for_status()
    requests.put(f"{api}/permissions/{name}/{auth[0]}", auth=auth, timeout=5,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    try:
        yield f"amqp://{auth[0]}:{auth[1]}@{parsed.hostname}:{parsed.port or 5672}/{quote(name, safe='')}"
    finally:
        requests.delete(f"{api}/vhosts/{name}", auth=auth, timeout=10)


@contextmanager
def databases():
    """Yield {engine name: a function returning the SQLAlchemy URL of a new, empty
    database}: SQLite files in one temp dir, PostgreSQL databases on the test server
    (when it answers). All are dropped on the way out."""
    tmp = tempfile.mkdtemp(prefix="praxis-bench-")
    made = []
    admin = None

    def sqlite():
        return f"sqlite:///{tmp}/{uuid.uuid4().hex[:8]}.db"

    def postgres():
        name = f"praxis_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{POSTGRES.rsplit('/', 1)[0]}/{name}"

    factories = {"sqlite": sqlite}
    try:
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect():
            factories["postgresql"] = postgres
    except Exception as exc:
        print(f"(PostgreSQL at {POSTGRES} not reachable, SQLite only: {exc})")
    try:
        yield factories
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for name in made:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
