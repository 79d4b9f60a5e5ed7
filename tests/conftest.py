"""Root fixtures. eventlet must patch the standard library before anything
else imports it: nameko's containers run in green threads."""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import os  # noqa: E402
import socket  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import quote, urlparse  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
# The RabbitMQ deploy/ runs: a testcontainer starts the same image.
BROKER_IMAGE = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "deploy" / "k8s" / "components" / "rabbitmq"
     / "rabbitmqcluster.yaml").read_text())["spec"]["image"]


def _answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _docker_answers():
    try:
        import docker
        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def amqp_base_uri():
    """The broker: PRAXIS_TEST_AMQP_URI, else the local one, else a testcontainer."""
    uri = os.environ.get("PRAXIS_TEST_AMQP_URI", DEFAULT_AMQP)
    parsed = urlparse(uri)
    if _answers(parsed.hostname, parsed.port or 5672):
        yield uri
        return
    if _docker_answers():
        from testcontainers.rabbitmq import RabbitMqContainer
        with RabbitMqContainer(BROKER_IMAGE) as rabbit:
            yield (f"amqp://guest:guest@{rabbit.get_container_host_ip()}:"
                   f"{rabbit.get_exposed_port(5672)}/")
        return
    pytest.skip(f"no RabbitMQ answers at {uri} and no Docker engine for testcontainers")


@pytest.fixture
def amqp_uri(amqp_base_uri):
    """A throwaway vhost per test, so queues and exchanges never leak between tests."""
    parsed = urlparse(amqp_base_uri)
    api = os.environ.get("PRAXIS_TEST_RABBIT_API", f"http://{parsed.hostname}:15672/api")
    auth = (parsed.username or "guest", parsed.password or "guest")
    vhost = f"praxis-test-{uuid.uuid4().hex[:12]}"
    try:
        response = requests.put(f"{api}/vhosts/{vhost}", auth=auth, timeout=5)
        response.raise_for_status()
        requests.put(f"{api}/permissions/{vhost}/{auth[0]}", auth=auth, timeout=5,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    except requests.RequestException as exc:
        pytest.skip(f"RabbitMQ management API at {api} is needed to make test vhosts "
                    f"(rabbitmq-plugins enable rabbitmq_management): {exc}")
    yield f"amqp://{auth[0]}:{auth[1]}@{parsed.hostname}:{parsed.port or 5672}/{quote(vhost, safe='')}"
    requests.delete(f"{api}/vhosts/{vhost}", auth=auth, timeout=10)


@pytest.fixture(scope="session")
def postgres_base_uri():
    """PostgreSQL: PRAXIS_TEST_POSTGRES_URL, else the local one, else a testcontainer."""
    uri = os.environ.get("PRAXIS_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    parsed = urlparse(uri)
    if _answers(parsed.hostname, parsed.port or 5432):
        yield uri
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer
        with PostgresContainer("postgres:15") as postgres:
            yield postgres.get_connection_url().replace("+psycopg2", "")
        return
    pytest.skip(f"no PostgreSQL answers at {uri} and no Docker engine for testcontainers")


@pytest.fixture
def postgres_url(postgres_base_uri):
    """A throwaway database per test."""
    name = f"praxis_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_base_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = postgres_base_uri.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path}/praxis.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """Every store test runs on both engines Praxis supports."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")
