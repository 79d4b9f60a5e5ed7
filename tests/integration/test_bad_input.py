"""Hostile and malformed requests (issue 12): every refusal is an RFC 9457 JSON
problem (also werkzeug's own: no route, a wrong method, a path id that is not a
UUID), a body over PRAXIS_MAX_BODY_BYTES is 413 before it is read, and each bad
input below is a 4xx naming its field, stores nothing, and the service still
answers /livez afterwards."""
import json
import socket
import uuid
from urllib.parse import urlparse

import pytest
import requests

from services.intake.service import Service as Intake
from tests.support import RunningService, token, wait_until

pytestmark = pytest.mark.integration

ADMIN = token(role="admin", clinics=["*"])
PROBLEM = "application/problem+json"
SMALL_LIMIT = 4096  # PRAXIS_MAX_BODY_BYTES of these services: a small body goes over it


@pytest.fixture(scope="module")
def vhost(amqp_base_uri):
    """One throwaway vhost for the module's services (as conftest's amqp_uri, per module)."""
    parsed = urlparse(amqp_base_uri)
    api, auth = f"http://{parsed.hostname}:15672/api", (parsed.username, parsed.password)
    name = f"praxis-test-{uuid.uuid4().hex[:12]}"
    requests.put(f"{api}/vhosts/{name}", auth=auth, timeout=5).raise_for_status()
    requests.put(f"{api}/permissions/{name}/{auth[0]}", auth=auth, timeout=5,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    yield f"amqp://{auth[0]}:{auth[1]}@{parsed.hostname}:{parsed.port or 5672}/{name}"
    requests.delete(f"{api}/vhosts/{name}", auth=auth, timeout=10)


def running(service_class, tmp_path_factory, vhost):
    database = tmp_path_factory.mktemp(service_class.name) / "db.sqlite"
    return RunningService(service_class, f"sqlite:///{database}", vhost,
                          PRAXIS_MAX_BODY_BYTES=SMALL_LIMIT)


@pytest.fixture(scope="module")
def scheduling(tmp_path_factory, vhost):
    from services.scheduling.service import Service as Scheduling
    with running(Scheduling, tmp_path_factory, vhost) as running_service:
        running_service.api.bearer = ADMIN
        yield running_service


@pytest.fixture(scope="module")
def intake(tmp_path_factory, vhost):
    with running(Intake, tmp_path_factory, vhost) as running_service:
        running_service.api.bearer = ADMIN
        yield running_service


def assert_problem(response, status, error=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/") and body["title"] and body["detail"]
    assert body["error"] and body["message"] == body["detail"]
    if error:
        assert body["error"] == error and body["type"] == "/problems/" + error.replace("_", "-")
    return body


def assert_alive(service):
    assert service.api.get("/livez", bearer="").status_code == 200


def events(service):
    return len(service.application.store.read_all())


def new_client(**overrides):
    return {"organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada Lovelace",
            "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
            "primary_clinician_id": "user-1", **overrides}


# --- A: one error format ---------------------------------------------------

@pytest.mark.parametrize("method,path,status,error", [
    ("GET", "/no-such-route", 404, "not_found"),
    ("GET", "/clients/not-a-uuid/outcomes/PHQ-9/chart/x", 404, "not_found"),
    ("DELETE", "/livez", 405, "method_not_allowed"),
    ("PUT", "/clients", 405, "method_not_allowed"),
])
def test_werkzeug_refusals_are_json_problems(intake, method, path, status, error):
    response = intake.api.request(method, path)
    body = assert_problem(response, status, error)
    if status == 405:
        assert "Allow" in response.headers
    assert "<html" not in response.text.lower() and "<!doctype" not in response.text.lower()
    assert_alive(intake)


def test_a_bad_uuid_in_a_path_is_a_json_problem(scheduling):
    response = scheduling.api.get("/appointments/not-a-uuid", bearer=ADMIN)
    assert_problem(response, 404, "not_found")
    assert_alive(scheduling)


@pytest.mark.parametrize("bearer,status,error", [
    ("", 401, "unauthorized"), ("not-a-token", 401, "unauthorized"),
    (token(role="integrator"), 403, "forbidden")])
def test_auth_refusals_are_problems(intake, bearer, status, error):
    assert_problem(intake.api.post("/clients", new_client(), bearer=bearer), status, error)


def test_validation_and_malformed_bodies_are_problems(intake):
    before = events(intake)
    body = assert_problem(intake.api.post("/clients", {"name": ""}), 422, "invalid_input")
    assert "organisation_id" in body["fields"]
    assert_problem(intake.api.request("POST", "/clients", data="{nope",
                                      headers={"Content-Type": "application/json"}),
                   400, "malformed_request")
    assert events(intake) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_json_under_another_content_type_is_415(intake, content_type):
    before = events(intake)
    response = intake.api.request("POST", "/clients", data=json.dumps(new_client()),
                                  headers={"Content-Type": content_type})
    assert_problem(response, 415, "unsupported_media_type")
    assert events(intake) == before


def test_json_without_a_content_type_and_an_empty_body_stay_fine(intake):
    response = intake.api.request("POST", "/clients", data=json.dumps(new_client()).encode())
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    # An empty body with no content type: validation speaks, not the media type.
    response = intake.api.request("POST", f"/clients/{client_id}/episodes")
    assert response.status_code != 415, response.text
    response = intake.api.request(
        "POST", "/clients", data=json.dumps(new_client()),
        headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 201, response.text


def test_a_500_is_a_problem_too():
    from shared.web import error_response
    response = error_response(RuntimeError("secret detail"))
    assert response.status_code == 500 and response.mimetype == PROBLEM
    body = json.loads(response.get_data())
    assert body["type"] == "/problems/internal-error" and "secret" not in json.dumps(body)


# --- B: limits ---------------------------------------------------------------

def test_a_body_over_the_limit_is_413_by_its_content_length(intake):
    before = events(intake)
    big = json.dumps(new_client(referral_source="x" * SMALL_LIMIT))
    assert_problem(intake.api.request("POST", "/clients", data=big,
                                      headers={"Content-Type": "application/json"}),
                   413, "content_too_large")
    assert events(intake) == before
    assert_alive(intake)


def test_a_huge_declared_body_is_refused_unread(intake):
    """The client declares 1 GB and sends none of it: the answer comes anyway."""
    url = urlparse(intake.settings.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall((f"POST /clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
                      "{").encode())
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert PROBLEM in answer
    assert_alive(intake)


def test_a_chunked_body_over_the_limit_is_413(intake):
    before = events(intake)

    def chunks():
        yield b'{"name": "'
        for _ in range(SMALL_LIMIT // 512 + 2):
            yield b"x" * 512
        yield b'"}'

    response = intake.api.request("POST", "/clients", data=chunks(),
                                  headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "content_too_large")
    assert events(intake) == before
    assert_alive(intake)


def test_a_small_chunked_body_is_read(intake):
    payload = json.dumps(new_client()).encode()
    response = intake.api.request("POST", "/clients", data=iter([payload[:10], payload[10:]]),
                                  headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_deep_nesting_is_400_without_recursion(intake):
    before = events(intake)
    shallow_limit = '{"contact": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}"
    assert_problem(intake.api.request("POST", "/clients", data=shallow_limit,
                                      headers={"Content-Type": "application/json"}),
                   400, "malformed_request")
    # Brackets inside a string do not count.
    assert events(intake) == before
    response = intake.api.post("/clients", new_client(referral_source="[[[[" * 50))
    assert response.status_code == 201, response.text
    assert_alive(intake)


# --- B: each attack input, against the service it reaches ----------------------

CLINICIAN = token(role="clinician", clinics=["clinic-1"])  # user-1: the primary clinician
BILLING = token(role="billing")
BIG = 10 ** 20
EARLY, LATE = "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"


@pytest.fixture(scope="module")
def notes(tmp_path_factory, vhost):
    from services.notes.service import Service as Notes
    with running(Notes, tmp_path_factory, vhost) as running_service:
        yield running_service


@pytest.fixture(scope="module")
def billing(tmp_path_factory, vhost):
    from services.billing.service import Service as Billing
    with running(Billing, tmp_path_factory, vhost) as running_service:
        yield running_service


@pytest.fixture(scope="module")
def world(intake, scheduling, notes, billing):
    """Every service, and one client intake registered (relayed to the others)."""
    response = intake.api.post("/clients", new_client())
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    wait_until(lambda: notes.api.get(f"/clients/{client_id}/chart", bearer=CLINICIAN)
               .status_code == 200, message="client known to notes")
    return {"intake": intake, "scheduling": scheduling, "notes": notes, "billing": billing,
            "client_id": client_id}


def booking(**overrides):
    return {"organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": "{c}",
            "clinician_id": "dr-1", "start": "2031-03-03T10:00:00Z", "duration_minutes": 50,
            "modality": "in_person", "override_working_hours": True, **overrides}


def payment(amount):
    return {"amount_minor": amount, "currency": "EUR", "method": "card"}


# (service, method, path, body, query, bearer, status, field): {c} is the client.
ATTACKS = [
    ("intake", "POST", "/clients", new_client(contact={"email": "a" * 250 + "@example.org"}),
     None, None, 422, "contact"),
    ("intake", "POST", "/clients", new_client(clinic_id="c" * 100), None, None, 422, "clinic_id"),
    ("intake", "POST", "/clients", new_client(clinic_id="clinic 1/../x"), None, None, 422,
     "clinic_id"),
    ("intake", "POST", "/clients", new_client(primary_clinician_id="dr\r\nX: 1"), None, None,
     422, "primary_clinician_id"),
    ("intake", "POST", "/clients", new_client(name="Ada\x00Lovelace"), None, None, 422, "name"),
    ("intake", "POST", "/clients", new_client(name="Ada \ud800"), None, None, 422, "name"),
    ("intake", "POST", "/clients", new_client(contact={"phone": "\udc00"}), None, None, 422,
     "contact.phone"),
    ("intake", "POST", "/clients", new_client(date_of_birth="0001-01-01"), None, None, 422,
     "date_of_birth"),
    ("intake", "POST", "/clients/{c}/assessments",
     {"instrument": "PHQ-9", "answers": [0] * 9, "assessed_at": EARLY}, None, None, 422,
     "assessed_at"),
    ("intake", "POST", "/clients/{c}/assessments",
     {"instrument": "PHQ-9", "answers": [0] * 9, "assessed_at": LATE}, None, None, 422,
     "assessed_at"),
    ("intake", "POST", "/clients/{c}/care-team", {"clinician_id": "dr-2\r\nX-Evil: 1"}, None,
     None, 422, "clinician_id"),
    ("intake", "GET", "/clients", None, {"clinic_id": "clinic-1", "offset": str(BIG)}, None,
     422, "offset"),
    ("intake", "GET", "/clients", None, {"clinic_id": "clinic-1", "name": "Ada\x00"}, None,
     422, "name"),
    ("intake", "GET", "/clients", None, {"clinic_id": "clinic-1", "name": "x" * 300}, None,
     422, "name"),
    ("intake", "GET", "/clients", None, {"clinic_id": "c" * 100}, None, 422, "clinic_id"),
    ("intake", "POST", "/clients", new_client(), None,
     token(role="admin", clinics=["*"], user="u" * 100), 401, None),
    ("intake", "POST", "/clients", new_client(), None,
     token(role="admin", clinics=["*"], user="user\r\n1"), 401, None),
    ("scheduling", "PUT", "/clinics/clinic-1", {"name": "Main", "time_zone": "America"}, None,
     None, 422, "time_zone"),
    ("scheduling", "PUT", "/clinics/clinic-1", {"name": "Main", "time_zone": "../../etc/passwd"},
     None, None, 422, "time_zone"),
    ("scheduling", "POST", "/appointments", booking(start=EARLY), None, None, 422, "start"),
    ("scheduling", "POST", "/appointments", booking(start=LATE), None, None, 422, "start"),
    ("scheduling", "POST", "/appointments", booking(clinician_id="dr\r\nX-Evil: 1"), None, None,
     422, "clinician_id"),
    ("scheduling", "GET", "/clinicians/dr%0D%0AX-Evil:%201/calendar.ics", None,
     {"feed_token": "x"}, "", 422, "clinician_id"),
    ("scheduling", "GET", "/clinicians/dr%00/week", None, None, None, 422, "clinician_id"),
    ("billing", "PUT", "/clinics/clinic-1/fee-schedule",
     {"currency": "EUR", "prices": {"90837": BIG}}, None, BILLING, 422, "prices"),
    ("billing", "PUT", "/clinics/clinic-1/fee-schedule",
     {"currency": "EUR", "prices": {"90837": 10 ** 8 + 1}}, None, BILLING, 422, "prices"),
    ("billing", "PUT", "/clinics/clinic-1/fee-schedule",
     {"currency": "EUR", "prices": {"90837": 2 ** 63}}, None, BILLING, 422, "prices"),
    ("billing", "POST", "/clients/{c}/payments", payment(BIG), None, BILLING, 422,
     "amount_minor"),
    ("billing", "POST", "/clients/{c}/payments", payment(10 ** 11 + 1), None, BILLING, 422,
     "amount_minor"),
    ("billing", "POST", "/clients/{c}/payments", {**payment(100), "received_on": "0001-01-01"},
     None, BILLING, 422, "received_on"),
    ("billing", "GET", "/invoices", None, {"clinic_id": "clinic-1", "offset": str(BIG)},
     BILLING, 422, "offset"),
    ("notes", "POST", "/clients/{c}/goals",
     {"description": "PHQ-9 below 5", "target_date": "2031-06-30", "instrument": "PHQ-9",
      "target_score": BIG}, None, CLINICIAN, 422, "target_score"),
    ("notes", "POST", "/clients/{c}/goals",
     {"description": "PHQ-9 below 5", "target_date": "9999-12-31", "instrument": "PHQ-9",
      "target_score": 4}, None, CLINICIAN, 422, "target_date"),
    # Fields bounded by tests/unit/test_schema_bounds.py, sent as an attacker would.
    ("intake", "POST", "/clients/{c}/assessments",
     {"instrument": "PHQ-9", "answers": [0] * 201}, None, None, 422, "answers"),
    ("intake", "POST", "/clients/{c}/assessments",
     {"instrument": "x" * 41, "answers": [0] * 9}, None, None, 422, "instrument"),
    # tenancy is decided before the body is validated: 403, and the value is not echoed
    ("intake", "POST", "/clients/{c}/consents",
     {"kind": "treatment", "document_version": "v1", "organisation_id": "o" * 3_000}, None,
     None, 403, "organisation_id"),
    ("scheduling", "PUT", "/clinicians/dr-1",
     {"name": "Dr One", "clinic_ids": ["clinic-1"] * 101}, None, None, 422, "clinic_ids"),
    ("scheduling", "GET", "/clinicians/dr-1/calendar.ics", None, {"feed_token": "t" * 5000},
     "", 422, "feed_token"),
    ("billing", "PUT", "/clinics/clinic-1/fee-schedule",
     {"currency": "EUR", "prices": {"9" * 40: 100}}, None, BILLING, 422, "prices"),
    ("billing", "PUT", "/clinics/clinic-1/billing-policy",
     {"payer_rules": {"insurer": {"video_modifier": "95\r\nX"}}}, None, BILLING, 422,
     "payer_rules"),
    ("billing", "PUT", "/clinics/clinic-1/billing-profile",
     {"name": "Dr One", "npi": "1" * 3_000}, None, BILLING, 422, "npi"),
    ("notes", "PUT", "/clients/{c}/diagnoses", {"codes": ["F33.1"] * 13}, None, CLINICIAN,
     422, "codes"),
]


def dotted(fields, prefix=""):
    """{"contact": {"email": [...]}} and {"contact.email": [...]}: both contact.email."""
    for key, value in fields.items():
        yield prefix + str(key)
        if isinstance(value, dict):
            yield from dotted(value, f"{prefix}{key}.")


def _fill(value, client_id):
    if isinstance(value, str):
        return value.replace("{c}", client_id)
    if isinstance(value, dict):
        return {k: _fill(v, client_id) for k, v in value.items()}
    return value


@pytest.mark.parametrize("service,method,path,body,query,bearer,status,field", ATTACKS,
                         ids=[f"{a[0]}-{a[1]}-{a[2]}-{a[7]}-{i}" for i, a in enumerate(ATTACKS)])
def test_each_attack_input_is_refused_naming_its_field(world, service, method, path, body,
                                                       query, bearer, status, field):
    target = world[service]
    before = events(target)
    response = target.api.request(
        method, _fill(path, world["client_id"]), params=query,
        bearer=ADMIN if bearer is None else bearer,
        json=_fill(body, world["client_id"]) if body is not None else None)
    problem = assert_problem(response, status)
    assert len(response.content) < 2_000, "a refusal does not echo a long value"
    if field:
        named = set(dotted(problem["fields"]))
        assert field in named or any(n.startswith(field + ".") for n in named), problem
    assert "\r" not in "".join(response.headers.values())
    assert events(target) == before, "nothing is stored"
    assert_alive(target)


def test_name_search_takes_wildcards_literally(world):
    api = world["intake"].api
    everyone = api.get("/clients", params={"clinic_id": "clinic-1"}).json()
    assert everyone and all(c["name"] for c in (everyone.get("clients", everyone)
                                                 if isinstance(everyone, dict) else everyone))
    for wildcard in ("%", "_", "Ada%Lovelace", "A_a"):
        found = api.get("/clients", params={"clinic_id": "clinic-1", "name": wildcard})
        assert found.status_code == 200, found.text
        rows = found.json()
        rows = rows.get("clients", rows) if isinstance(rows, dict) else rows
        assert rows == [], (wildcard, rows)
    rows = api.get("/clients", params={"clinic_id": "clinic-1", "name": "love"}).json()
    rows = rows.get("clients", rows) if isinstance(rows, dict) else rows
    assert rows, "a plain search still finds"


def test_a_fee_at_the_ceiling_is_kept(world):
    response = world["billing"].api.put("/clinics/clinic-1/fee-schedule", {
        "currency": "EUR", "prices": {"90837": 10 ** 8}}, bearer=BILLING)
    assert response.status_code in (200, 201), response.text


def test_an_odd_correlation_id_is_replaced_not_echoed(intake):
    for odd in ("x" * 500, "a b<script>", "id;drop"):
        response = intake.api.get("/livez", bearer="", headers={"X-Correlation-Id": odd})
        assert response.headers["X-Correlation-Id"] != odd
        assert len(response.headers["X-Correlation-Id"]) == 36  # a fresh UUID
    response = intake.api.get("/livez", bearer="", headers={"X-Correlation-Id": "req-42.a:b"})
    assert response.headers["X-Correlation-Id"] == "req-42.a:b"
