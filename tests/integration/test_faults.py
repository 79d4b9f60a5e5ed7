"""Transient versus permanent failures (issue 13): a database or broker that is
away is waited out, never dead-letters; only a bad delivery does.

The tests that stop a database or a broker start their own (PostgreSQL cluster,
RabbitMQ node) and stop it at the end; the machine's own serve every other test.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests
from kombu import Connection, Exchange
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, select, text

from services.billing.read_models import billing_clients
from services.billing.service import Service as Billing
from shared import cli, dead_letters
from shared.consumer import dead_letter_queue, redelivery_exchange, subscription_queue_name
from shared.envelope import CONTENT_TYPE
from shared.outbox import OutboxRelay
from shared.events import catalogue
from shared.store import EventStore
from tests.integration.test_outbox_relay import append
from tests.support import (KEYS, SECRET, Api, RunningService, free_port, make_event, publish_event,
                           token, wait_until)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
BILLING = token(role="billing")
PRICES = {"currency": "USD", "prices": {"90832": 9000, "90834": 12000, "90837": 16000}}
SESSION_QUEUE = subscription_queue_name("scheduling", "billing")
CLIENT_QUEUE = subscription_queue_name("intake", "billing")


# -- a PostgreSQL cluster and a RabbitMQ node of the test's own ----------------------
class OwnPostgres:
    """testing-faults.md's recipe: run as the postgres user, in a folder it owns."""

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"no PostgreSQL binaries at {PG_BIN}")
        self.dir = Path(tempfile.mkdtemp(prefix="praxis-faults-pg-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        (self.dir / "pg").mkdir()
        (self.dir / "sock").mkdir()
        shutil.chown(self.dir / "pg", "postgres")
        shutil.chown(self.dir / "sock", "postgres")
        shutil.chown(self.dir, "postgres")
        self._as_postgres(f"{PG_BIN}/initdb -D {self.dir}/pg -A trust")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def _as_postgres(command):
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True,
                       timeout=120)

    def start(self):
        self._as_postgres(
            f"{PG_BIN}/pg_ctl -D {self.dir}/pg -w -l {self.dir}/pg.log -o \"-p {self.port} "
            f"-k {self.dir}/sock -c listen_addresses=127.0.0.1 -c max_connections=100\" start")

    def stop(self, mode="fast"):
        self._as_postgres(f"{PG_BIN}/pg_ctl -D {self.dir}/pg -w -m {mode} stop")

    def remove(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


class OwnRabbit:
    """testing-faults.md's recipe: the binaries under /usr/lib/rabbitmq/bin with a
    private env file, so the machine's node is never touched."""

    def __init__(self):
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            pytest.skip(f"no RabbitMQ binaries at {RABBIT_BIN}")
        self.dir = Path(tempfile.mkdtemp(prefix="praxis-faults-rabbit-"))
        self.port, dist = free_port(), free_port()
        self.node = f"faults-{uuid.uuid4().hex[:8]}@localhost"
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq-env.conf").write_text(
            f"NODENAME={self.node}\nERL_EPMD_ADDRESS=127.0.0.1\n")
        d = self.dir
        self.env = {**os.environ, "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_PORT": str(self.port),
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_DIST_PORT": str(dist),
                    "RABBITMQ_MNESIA_BASE": f"{d}/mnesia", "RABBITMQ_LOG_BASE": f"{d}/log",
                    "RABBITMQ_PID_FILE": f"{d}/rmq.pid", "RABBITMQ_CONFIG_FILE": f"{d}/rabbitmq",
                    "RABBITMQ_ENABLED_PLUGINS_FILE": f"{d}/enabled_plugins",
                    "RABBITMQ_CONF_ENV_FILE": f"{d}/rabbitmq-env.conf",
                    "ERL_EPMD_ADDRESS": "127.0.0.1", "HOME": os.environ.get("HOME", "/root"),
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                        "-kernel inet_dist_use_interface {127,0,0,1}"}
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl(self, *args):
        subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self.env,
                       check=True, capture_output=True, timeout=120)

    def start(self):
        subprocess.run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self.env,
                       check=True, capture_output=True, timeout=60)
        wait_until(lambda: self._ctl_ok("await_startup"), timeout=90, interval=1,
                   message="own RabbitMQ node started")

    def _ctl_ok(self, *args):
        try:
            self.ctl(*args)
            return True
        except subprocess.CalledProcessError:
            return False

    def remove(self):
        self._ctl_ok("stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_postgres():
    postgres = OwnPostgres()
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.remove()


@pytest.fixture
def own_rabbit():
    rabbit = OwnRabbit()
    try:
        rabbit.start()
        yield rabbit
    finally:
        rabbit.remove()


# -- events ---------------------------------------------------------------------------
def registered(client_id):
    return make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org"}, "registered_at": "2026-01-05T09:00:00Z"},
        subject=f"client-{client_id}")


def session_held(client_id):
    appointment_id = str(uuid.uuid4())
    return make_event("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id, "clinician_id": "clin-1",
        "start": "2026-03-02T15:00:00Z", "minutes": 45, "modality": "in_person",
        "session_type": "individual", "place_of_service": "office", "audio_only": False,
        "session_number": 1}, subject=f"appointment-{appointment_id}", sequence=3)


def publish_all(amqp_uri, events):
    """Like publish_event, on one connection, so a burst is still being handled
    when the next step comes."""
    from shared.envelope import routing_key
    exchange = Exchange(f"{events[0].service}.events", type="topic", durable=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        producer = connection.Producer()
        for event in events:
            producer.publish(event.to_json().encode(), exchange=exchange, declare=[exchange],
                             routing_key=routing_key(event.organisationid, event.name),
                             content_type=CONTENT_TYPE, content_encoding="utf-8",
                             message_id=event.id, delivery_mode=2)


def depth(amqp_uri, queue):
    with Connection(amqp_uri) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def charges(api, client_id):
    response = api.get(f"/clients/{client_id}/balance", bearer=BILLING)
    return len(response.json()["charges"]) if response.status_code == 200 else -1


def refused(reason):
    return REGISTRY.get_sample_value("praxis_events_refused_total",
                                     {"service": "billing", "reason": reason}) or 0.0


def dead_lettered():
    return REGISTRY.get_sample_value("praxis_events_dead_lettered_total",
                                     {"service": "billing", "type": "SessionHeld"}) or 0.0


def known(store, client_id):
    with store.read() as conn:
        return conn.execute(select(billing_clients).where(
            billing_clients.c.client_id == client_id)).first() is not None


# -- (1) the database away ----------------------------------------------------------------
def test_database_outage_is_waited_out_without_dead_letters(own_postgres, amqp_uri):
    with RunningService(Billing, own_postgres.url, amqp_uri) as billing:
        api, store = billing.api, billing.application.store
        assert api.put("/clinics/clinic-1/fee-schedule", PRICES,
                       bearer=BILLING).status_code == 200
        client_id = str(uuid.uuid4())
        publish_event(amqp_uri, registered(client_id))
        wait_until(lambda: known(store, client_id), message="client known to billing")
        before = [session_held(client_id) for _ in range(5)]
        for event in before:
            publish_event(amqp_uri, event)
        wait_until(lambda: charges(api, client_id) == 5, message="5 charges before")
        letters = dead_lettered()

        own_postgres.stop()
        outage = time.monotonic()
        during = [session_held(client_id) for _ in range(30)]
        for event in during:
            publish_event(amqp_uri, event)
        response = api.get(f"/clients/{client_id}/balance", bearer=BILLING)
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["error"] == "unavailable"
        assert "database" in response.json()["message"]
        ready = api.get("/readyz", bearer="")
        assert ready.status_code == 503 and ready.json()["database"].startswith("unreachable")
        assert ready.json()["broker"] == "ok"
        time.sleep(max(0.0, 20 - (time.monotonic() - outage)))
        # Well past PRAXIS_MAX_ATTEMPTS (3) x PRAXIS_RETRY_DELAY_MS (100): nothing parked.
        assert depth(amqp_uri, SESSION_QUEUE + ".dead-letter") == 0
        own_postgres.start()

        after = [session_held(client_id) for _ in range(5)]
        for event in after:
            publish_event(amqp_uri, event)
        wait_until(lambda: charges(api, client_id) == 40, timeout=60,
                   message="every session charged once after the outage")
        assert api.get("/readyz", bearer="").status_code == 200
        assert depth(amqp_uri, SESSION_QUEUE + ".dead-letter") == 0
        assert dead_lettered() == letters
        assert (REGISTRY.get_sample_value("praxis_event_handler_waits_total", {
            "service": "billing", "away": "database"}) or 0) > 0
        recorded = [e.id for _, e in store.read_all(limit=10_000) if e.name == "SessionHeld"]
        assert sorted(recorded) == sorted(e.id for e in before + during + after)
        charged = [e for _, e in store.read_all(limit=10_000) if e.name == "ChargeRecorded"]
        assert len(charged) == len({e.causationid for e in charged}) == 40


# -- (2) the broker away ------------------------------------------------------------------
def test_broker_outage_the_service_survives_and_reconnects(own_rabbit, tmp_path):
    port = free_port()
    env = {**os.environ, "PRAXIS_AMQP_URI": own_rabbit.uri, "PRAXIS_TOKEN_SECRET": SECRET,
           "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS, "PRAXIS_BILLING_PORT": str(port),
           "PRAXIS_BILLING_DATABASE_URL": f"sqlite:///{tmp_path}/billing.db",
           "PRAXIS_RETRY_DELAY_MS": "100", "PRAXIS_MAX_ATTEMPTS": "3",
           "PYTHONUNBUFFERED": "1"}
    api = Api(f"http://127.0.0.1:{port}", BILLING)
    log = open(tmp_path / "billing.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "shared.runner", "billing"], cwd=ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)

    def output():
        return (tmp_path / "billing.log").read_text()[-4000:]

    def answers(path, status):
        assert process.poll() is None, f"billing exited {process.returncode}:\n{output()}"
        try:
            return api.get(path, bearer="").status_code == status
        except requests.RequestException:
            return False

    try:
        wait_until(lambda: answers("/readyz", 200), timeout=60, message="billing ready")
        assert api.put("/clinics/clinic-1/fee-schedule", PRICES).status_code == 200
        client_id = str(uuid.uuid4())
        publish_event(own_rabbit.uri, registered(client_id))
        first = session_held(client_id)
        publish_event(own_rabbit.uri, first)
        wait_until(lambda: charges(api, client_id) == 1, message="the first charge")
        before = [session_held(client_id) for _ in range(299)]
        publish_all(own_rabbit.uri, before)
        # Stopped while those are being handled: acks on a dropped connection.
        own_rabbit.ctl("stop_app")
        stopped = time.monotonic()
        wait_until(lambda: answers("/readyz", 503), timeout=20, message="readiness 503")
        assert api.get("/readyz", bearer="").json()["broker"].startswith("unreachable")
        while time.monotonic() - stopped < 30:
            assert answers("/livez", 200), "billing's /livez stopped answering"
            time.sleep(1)
        own_rabbit.ctl("start_app")
        own_rabbit.ctl("await_startup")

        wait_until(lambda: answers("/readyz", 200), timeout=60, message="ready again")
        after = [session_held(client_id) for _ in range(10)]
        for event in after:
            publish_event(own_rabbit.uri, event)
        wait_until(lambda: charges(api, client_id) == 310, timeout=120,
                   message="every session charged once after the outage")
        assert process.poll() is None, output()
        assert depth(own_rabbit.uri, SESSION_QUEUE + ".dead-letter") == 0
        # The relay reconnected too: every charge left the outbox.
        wait_until(lambda: "praxis_outbox_backlog_events{service=\"billing\"} 0.0"
                   in api.get("/metrics", bearer="").text, timeout=30,
                   message="outbox drained after the outage")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# -- (3) deliveries that cannot be decoded -------------------------------------------------
def publish_raw(amqp_uri, body, content_type, message_id, headers=None):
    exchange = Exchange("intake.events", type="topic", durable=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(body, exchange=exchange, declare=[exchange],
                                      routing_key="org-1.ClientRegistered",
                                      content_type=content_type, content_encoding="utf-8",
                                      message_id=message_id, delivery_mode=2,
                                      headers=headers)


def test_undecodable_deliveries_are_dead_lettered_with_a_reason_and_counted(sqlite_url,
                                                                            amqp_uri):
    with RunningService(Billing, sqlite_url, amqp_uri) as billing:
        undecodable, content_type = refused("undecodable"), refused("content_type")
        good = registered(str(uuid.uuid4()))
        publish_raw(amqp_uri, b"{not json", CONTENT_TYPE, "not-json")
        publish_raw(amqp_uri, b"\xff\xfe\x00binary", "application/json", "binary")
        publish_raw(amqp_uri, good.to_json().encode(), "text/plain", "plain-text")
        publish_raw(amqp_uri, b"\x80\x04K\x01.", "application/x-python-serialize", "pickle")
        # A compression that fails: kombu itself cannot unpack it.
        publish_raw(amqp_uri, b"not gzip", CONTENT_TYPE, "bad-gzip",
                    headers={"compression": "application/x-gzip"})
        publish_event(amqp_uri, good)  # the consumer goes on after them
        wait_until(lambda: known(billing.application.store, good.data["client_id"]),
                   message="a good event after the bad ones applied")
        wait_until(lambda: depth(amqp_uri, CLIENT_QUEUE + ".dead-letter") == 5,
                   message="five dead letters")
        assert refused("undecodable") == undecodable + 3
        assert refused("content_type") == content_type + 2
        letters = {letter["event_id"]: letter
                   for letter in cli_letters(amqp_uri, CLIENT_QUEUE)}
        assert set(letters) == {"not-json", "binary", "plain-text", "pickle", "bad-gzip"}
        assert "could not unpack" in letters["bad-gzip"]["error"]
        assert "undecodable" in letters["not-json"]["error"]
        assert "not JSON" in letters["binary"]["error"]
        assert "content_type" in letters["plain-text"]["error"]
        assert "application/x-python-serialize" in letters["pickle"]["error"]
        assert letters["binary"]["body_problem"] == "body is not JSON"


# -- (4) the dead-letter CLI ------------------------------------------------------------
def run_cli(amqp_uri, database_url, *args, capsys):
    os.environ["PRAXIS_AMQP_URI"] = amqp_uri
    os.environ["PRAXIS_BILLING_DATABASE_URL"] = database_url
    try:
        assert cli.main(["dead-letters", "billing", "--queue", CLIENT_QUEUE, *args]) == 0
    finally:
        del os.environ["PRAXIS_AMQP_URI"], os.environ["PRAXIS_BILLING_DATABASE_URL"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [line for line in lines if not line.get("deferred")]


def cli_letters(amqp_uri, queue):
    return dead_letters.inspect(amqp_uri, queue)


def park(amqp_uri, body, message_id, content_type=CONTENT_TYPE):
    """A letter as the consumer parks one: through billing's redelivery exchange."""
    queue = dead_letter_queue(CLIENT_QUEUE)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(
            body, exchange=redelivery_exchange("billing"), routing_key=queue.name,
            declare=[queue], content_type=content_type, content_encoding="utf-8",
            message_id=message_id, delivery_mode=2,
            headers={"x-praxis-attempts": 3, "x-praxis-error": "RuntimeError: hiccup"})


def test_dead_letter_cli_lists_every_letter_paged_and_replays_each_once(sqlite_url,
                                                                         amqp_uri, capsys):
    with RunningService(Billing, sqlite_url, amqp_uri) as billing:
        good = [registered(str(uuid.uuid4())) for _ in range(147)]
        for event in good:
            park(amqp_uri, event.to_json().encode(), event.id)
        park(amqp_uri, b'[{"type": "an array"}]', "array")
        park(amqp_uri, b"not json at all", "text")
        park(amqp_uri, b"\x00\xff\xfe binary", "binary", content_type="application/octet-stream")
        assert depth(amqp_uri, CLIENT_QUEUE + ".dead-letter") == 150

        *rows, summary = run_cli(amqp_uri, sqlite_url, capsys=capsys)
        assert len(rows) == 150 and summary["total"] == 150 and summary["next_offset"] is None
        assert len({row["event_id"] for row in rows}) == 150
        (array,) = [row for row in rows if row["event_id"] == "array"]
        assert array["body_problem"] == "body is a JSON list" and array["type"] is None

        *first, summary = run_cli(amqp_uri, sqlite_url, "--limit", "100", capsys=capsys)
        assert len(first) == 100 and summary["next_offset"] == 100
        *rest, summary = run_cli(amqp_uri, sqlite_url, "--offset", "100", "--limit", "100",
                                 capsys=capsys)
        assert len(rest) == 50 and summary["next_offset"] is None
        assert [r["event_id"] for r in first + rest] == [r["event_id"] for r in rows]
        assert depth(amqp_uri, CLIENT_QUEUE + ".dead-letter") == 150  # listing keeps them

        (replayed,) = run_cli(amqp_uri, sqlite_url, "--replay", capsys=capsys)
        assert replayed == {"queue": CLIENT_QUEUE, "replayed": 150}
        store = billing.application.store
        wait_until(lambda: all(known(store, e.data["client_id"]) for e in good), timeout=60,
                   message="the 147 replayed events applied")
        # The three bodies that are no event are parked again, once each.
        wait_until(lambda: depth(amqp_uri, CLIENT_QUEUE + ".dead-letter") == 3,
                   message="the three bad letters back")
        recorded = [e.id for _, e in store.read_all(limit=10_000) if e.name == "ClientRegistered"]
        assert sorted(recorded) == sorted(e.id for e in good)


# -- the relay holds no transaction open while it waits on the broker -----------------
def test_relay_waits_for_confirms_outside_any_transaction(postgres_url, amqp_uri):
    store = EventStore(postgres_url, "intake", catalogue)
    store.create_schema()
    append(store, 3)
    relay = OutboxRelay(store, amqp_uri)
    watcher = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    seen = []
    publish = relay._publish_batch

    def watched(rows):
        with watcher.connect() as conn:
            seen.append(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'")).scalar())
        return publish(rows)

    relay._publish_batch = watched
    try:
        assert relay.relay_once() == 3
        assert seen == [0] and store.outbox_status()[0] == 0
    finally:
        relay.close()
        watcher.dispose()
        store.engine.dispose()
