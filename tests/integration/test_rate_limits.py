"""Rate limits (issue 12, shared/ratelimit.py): per principal, per client address,
and harder for failed authentications; 429 with Retry-After as a JSON problem,
counted in praxis_rate_limited_total; probes are never limited."""
import pytest
from prometheus_client import REGISTRY

from services.intake.service import Service as Intake
from shared.ratelimit import Buckets
from tests.support import RunningService, token

pytestmark = pytest.mark.integration

ADMIN = token(role="admin", clinics=["*"])


def limited(limit):
    return REGISTRY.get_sample_value("praxis_rate_limited_total",
                                     {"service": "intake", "limit": limit}) or 0


def start(sqlite_url, amqp_uri, principal=0, address=0, failures=0):
    return RunningService(Intake, sqlite_url, amqp_uri,
                          PRAXIS_RATE_LIMIT_PER_PRINCIPAL=principal,
                          PRAXIS_RATE_LIMIT_PER_ADDRESS=address,
                          PRAXIS_RATE_LIMIT_AUTH_FAILURES=failures)


def assert_429(response):
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"] == "too_many_requests"


def test_failed_authentications_are_limited_harder(sqlite_url, amqp_uri):
    with start(sqlite_url, amqp_uri, failures=3) as intake:
        before = limited("auth_failures")
        for _ in range(3):
            assert intake.api.get("/clients", bearer="wrong").status_code == 401
        # Exhausted: refused before the token is looked at, a good one too.
        assert_429(intake.api.get("/clients", bearer="wrong"))
        assert_429(intake.api.get("/clients", params={"clinic_id": "clinic-1"}, bearer=ADMIN))
        assert limited("auth_failures") == before + 2
        assert intake.api.get("/livez", bearer="").status_code == 200


def test_a_principal_over_its_limit_is_429_and_another_is_not(sqlite_url, amqp_uri):
    with start(sqlite_url, amqp_uri, principal=5) as intake:
        before = limited("principal")
        query = {"clinic_id": "clinic-1"}
        for _ in range(5):
            assert intake.api.get("/clients", params=query, bearer=ADMIN).status_code == 200
        assert_429(intake.api.get("/clients", params=query, bearer=ADMIN))
        other = token(role="admin", clinics=["*"], user="user-2")
        assert intake.api.get("/clients", params=query, bearer=other).status_code == 200
        assert limited("principal") == before + 1


def test_an_address_over_its_limit_is_429_but_probes_answer(sqlite_url, amqp_uri):
    with start(sqlite_url, amqp_uri, address=4) as intake:
        for _ in range(4):
            intake.api.get("/clients", params={"clinic_id": "clinic-1"}, bearer=ADMIN)
        assert_429(intake.api.get("/clients", params={"clinic_id": "clinic-1"},
                                  bearer=token(role="admin", clinics=["*"], user="user-3")))
        for probe in ("/livez", "/healthz", "/metrics"):
            assert intake.api.get(probe, bearer="").status_code == 200


def test_a_bucket_refills_at_its_rate():
    now = [0.0]
    buckets = Buckets(60, clock=lambda: now[0])  # one a second, sixty saved up
    assert all(buckets.take("k") == 0 for _ in range(60))
    assert buckets.take("k") == pytest.approx(1.0)
    now[0] += 0.5
    assert buckets.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("k") == 0 and buckets.take("other") == 0
    assert Buckets(0).take("k") == 0  # off
