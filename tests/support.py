"""Helpers for tests: tokens, an HTTP client, waiting, free ports, containers."""
import socket
import time

import requests
from nameko.containers import ServiceContainer

from shared import config
from shared.auth import issue_token

SECRET = "praxis-test-secret-0123456789abcdef0123"
# The tests' own key-encryption key (32 bytes): services run as in production.
KEYS = "test-1:dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMDEyMzQ1Njc="
RATE_LIMITS_OFF = {"PRAXIS_RATE_LIMIT_PER_PRINCIPAL": "0", "PRAXIS_RATE_LIMIT_PER_ADDRESS": "0",
                   "PRAXIS_RATE_LIMIT_AUTH_FAILURES": "0"}


def token(role="clinician", org="org-1", clinics=("clinic-1",), user="user-1", client_id=None):
    return issue_token(SECRET, user, role, org, list(clinics), client_id=client_id)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout=15.0, interval=0.05, message="condition"):
    """Poll `check` until it returns a truthy value; fail with `message` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Api:
    """A JSON client for one service, with a default bearer token."""

    def __init__(self, base_url, bearer=None):
        self.base_url = base_url
        self.bearer = bearer or token()

    def request(self, method, path, bearer=None, **kwargs):
        headers = kwargs.pop("headers", {})
        use = self.bearer if bearer is None else bearer
        if use:
            headers["Authorization"] = f"Bearer {use}"
        return requests.request(method, self.base_url + path, headers=headers, timeout=10,
                                **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.request("PUT", path, json=json, **kwargs)


def service_config(service, database_url, amqp_uri, port=None, **overrides):
    env = {
        f"PRAXIS_{service.upper()}_DATABASE_URL": database_url,
        f"PRAXIS_{service.upper()}_PORT": str(port or free_port()),
        "PRAXIS_AMQP_URI": amqp_uri,
        "PRAXIS_TOKEN_SECRET": SECRET,
        "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS,
        "PRAXIS_RETRY_DELAY_MS": "100",
        "PRAXIS_MAX_ATTEMPTS": "3",
        # Tests send hundreds of requests and 401s from one address in a minute;
        # tests/integration/test_rate_limits.py turns the limits on.
        **RATE_LIMITS_OFF,
    }
    env.update({k: str(v) for k, v in overrides.items()})
    settings = config.load(service, env)
    return settings, config.nameko_config(settings)


class RunningService:
    """A service's nameko container started in this test process."""

    def __init__(self, service_class, database_url, amqp_uri, **overrides):
        self.settings, nameko_config = service_config(
            service_class.name, database_url, amqp_uri, **overrides)
        self.container = ServiceContainer(service_class, nameko_config)
        self.api = Api(self.settings.base_url)

    def __enter__(self):
        self.container.start()
        wait_until(lambda: _healthy(self.api), message=f"{self.settings.service} healthy")
        return self

    def __exit__(self, *exc):
        self.container.stop()

    @property
    def application(self):
        for dependency in self.container.dependencies:
            if hasattr(dependency, "application"):
                return dependency.application
        raise LookupError("no Praxis dependency")


def _healthy(api):
    try:
        return api.get("/healthz", bearer="").status_code == 200
    except requests.RequestException:
        return False


def make_event(service, name, data, subject, org="org-1", clinic="clinic-1", sequence=1,
               event_id=None, correlation_id=None):
    """A well-formed envelope of the catalogue's latest version, as another service sends it."""
    import uuid

    from shared.envelope import Event
    from shared.events import catalogue
    from shared.timeutil import iso, utc_now

    return Event(id=event_id or str(uuid.uuid4()), source=f"/praxis/{service}",
                 type=catalogue.latest_type(service, name), subject=subject,
                 time=iso(utc_now()), data=data, sequence=sequence, organisationid=org,
                 clinicid=clinic, correlationid=correlation_id or str(uuid.uuid4()))


def publish_event(amqp_uri, event):
    """Publish an envelope to '<service>.events' exactly as the outbox relay does."""
    from kombu import Connection, Exchange

    from shared.envelope import CONTENT_TYPE, routing_key

    exchange = Exchange(f"{event.service}.events", type="topic", durable=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        producer = connection.Producer()
        producer.publish(event.to_json().encode(), exchange=exchange,
                         routing_key=routing_key(event.organisationid, event.name),
                         declare=[exchange], content_type=CONTENT_TYPE,
                         content_encoding="utf-8", message_id=event.id, delivery_mode=2)
