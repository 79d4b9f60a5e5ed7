"""Fuzzing each running service against its own OpenAPI document (schemathesis).

The four services run as real processes (the e2e `praxis` fixture, on SQLite only
to bound the time). For every operation of every service's /openapi.json,
hypothesis draws requests the document allows, sent with a valid token of one of
several roles; each answer must be no server error (5xx is a bug), and must
conform to the document: a documented status code, its content type, its schema.

Bounded: MAX_EXAMPLES requests per operation (each with a role drawn from ROLES),
no shrinking phase beyond hypothesis's own, no example database.
"""
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from shared.config import SERVICES
from tests.support import token

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 10
ROLES = ("admin", "clinician", "front_desk")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# The caller's tokens: one organisation, the clinic the fuzz's clinic ids name.
TOKENS = {role: token(role=role, org="org-1", clinics=["clinic-1"], user=f"fuzz-{role}")
          for role in ROLES}


STATUSES = []  # (service, method, path template, status) of every request sent
PROBES = ("/livez", "/readyz", "/healthz", "/metrics", "/openapi.json", "/asyncapi.json")


@pytest.mark.parametrize("praxis", ["sqlite"], indirect=True)
def test_every_service_answers_what_its_openapi_document_says(praxis):
    failures = []
    session = requests.Session()
    pins = {"clinic_id": "clinic-1", "clinician_id": "fuzz-clinician",
            "client_id": seeded_client(praxis)}
    for service in SERVICES:
        base = praxis.urls[service]
        served = requests.get(f"{base}/openapi.json", timeout=10)
        assert served.status_code == 200, served.text
        assert served.headers["Content-Type"].startswith("application/json")
        document = served.json()
        validate(document)
        schema = schemathesis.openapi.from_dict(document)
        for result in schema.get_all_operations():
            operation = result.ok()
            failures += fuzz(session, base, service, operation, pins)
    assert not failures, "\n\n".join(failures[:20])
    # The fuzz reaches handlers, not only the refusals before them: in each service,
    # routes beyond the probes answered with success.
    for service in SERVICES:
        answered = {(method, path) for where, method, path, status in STATUSES
                    if where == service and status < 300 and path not in PROBES}
        assert len(answered) >= 5, (service, sorted(answered))


def seeded_client(praxis):
    """A client of the fuzz's clinic, so that some requests reach a real record."""
    intake = praxis.api("intake", bearer=TOKENS["admin"])
    registered = intake.post("/clients", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Fuzz Client",
        "date_of_birth": "1990-01-02", "contact": {"email": "fuzz@example.org"},
        "primary_clinician_id": "fuzz-clinician"})
    assert registered.status_code == 201, registered.text
    return registered.json()["client_id"]


def pinned_body(case, pins):
    """The case with the seeded organisation, clinic and client in its body, so that
    the body reaches the handler rather than a tenancy refusal."""
    if isinstance(case.body, dict):
        for name, value in {"organisation_id": "org-1", **pins}.items():
            if name in case.body:
                case.body[name] = value
    return case


def fuzz(session, base, service, operation, pins):
    """The failures of MAX_EXAMPLES requests to one operation: some with generated
    path and query values, some with the seeded clinic, clinician and client."""
    found = []
    in_path = {p.name for p in operation.path_parameters}
    in_query = {p.name for p in operation.query}
    cases = st.one_of(operation.as_strategy(), operation.as_strategy(
        path_parameters={k: v for k, v in pins.items() if k in in_path} or None,
        query={k: v for k, v in pins.items() if k in in_query} or None).map(
            lambda case: pinned_body(case, pins)))

    @given(case=cases, role=st.sampled_from(ROLES))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case, role):
        headers = {"Authorization": f"Bearer {TOKENS[role]}"}
        response = case.call(base_url=base, session=session, headers=headers, timeout=30)
        STATUSES.append((service, operation.method, operation.path, response.status_code))
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as exc:  # schemathesis's failure groups say every check failed
            found.append(f"{service} {operation.method.upper()} {operation.path} as {role}: "
                         f"{response.status_code} {response.text[:300]}\n{exc}"[:2000])

    run()
    return found
