import time

import jwt
import pytest

from shared import config
from shared.auth import Principal, issue_token, principal_from_header, verify_token
from shared.errors import Forbidden, NotFound, Unauthorized

SECRET = "unit-test-secret-0123456789abcdef0123"


def test_token_round_trip():
    token = issue_token(SECRET, "u-7", "clinician", "org-1", ["clinic-1", "clinic-2"])
    principal = verify_token(SECRET, token)
    assert principal == Principal("u-7", "clinician", "org-1", ("clinic-1", "clinic-2"))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer nonsense"])
def test_missing_or_malformed_token_is_401(header):
    with pytest.raises(Unauthorized):
        principal_from_header(SECRET, header)


def test_wrong_key_and_expired_tokens_are_401():
    with pytest.raises(Unauthorized):
        verify_token(SECRET, issue_token("another-secret-0123456789abcdef01", "u", "admin",
                                         "org-1", ["*"]))
    expired = jwt.encode({"iss": "praxis", "sub": "u", "role": "admin", "org": "org-1",
                          "clinics": ["*"], "exp": int(time.time()) - 10}, SECRET,
                         algorithm="HS256")
    with pytest.raises(Unauthorized, match="expired"):
        verify_token(SECRET, expired)


def test_unknown_role_is_refused():
    with pytest.raises(ValueError):
        issue_token(SECRET, "u", "superuser", "org-1", ["*"])
    forged = jwt.encode({"iss": "praxis", "sub": "u", "role": "superuser", "org": "org-1",
                         "clinics": ["*"], "exp": int(time.time()) + 60}, SECRET,
                        algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify_token(SECRET, forged)


def test_tenancy_rules():
    clinician = Principal("u", "clinician", "org-1", ("clinic-1",))
    admin = Principal("a", "admin", "org-1", ("*",))
    record = {"organisation_id": "org-1", "clinic_id": "clinic-2"}
    assert admin.sees("org-1", "clinic-2") and not admin.sees("org-2", "clinic-2")
    assert clinician.sees("org-1", "clinic-1") and not clinician.sees("org-1", "clinic-2")
    with pytest.raises(NotFound):
        clinician.require_visible(record)
    with pytest.raises(NotFound):
        clinician.require_visible(None)
    assert admin.require_visible(record) is record
    with pytest.raises(Forbidden):
        clinician.require_clinic("org-1", "clinic-2")
    with pytest.raises(Forbidden):
        admin.require_clinic("org-2", "clinic-1")
    with pytest.raises(Forbidden):
        clinician.require_role("admin", "billing")


def test_config_defaults_and_overrides():
    defaults = config.load("billing", {})
    assert defaults.port == 8004 and defaults.database_url.endswith("/var/billing.db")
    assert defaults.amqp_uri == "amqp://guest:guest@127.0.0.1:5672/"
    custom = config.load("billing", {"PRAXIS_BILLING_PORT": "9100",
                                     "PRAXIS_BILLING_DATABASE_URL": "postgresql://db/billing",
                                     "PRAXIS_MAX_ATTEMPTS": "7"})
    assert (custom.port, custom.database_url, custom.max_attempts) == \
        (9100, "postgresql://db/billing", 7)
    nameko = config.nameko_config(custom)
    assert nameko["WEB_SERVER_ADDRESS"] == "127.0.0.1:9100"
    assert "cloudevents" in nameko["ACCEPT"]
    with pytest.raises(ValueError):
        config.load("payroll", {})


def test_client_tokens_name_their_client():
    token = issue_token(SECRET, "u-c", "client", "org-1", ["clinic-1"], client_id="c-9")
    principal = verify_token(SECRET, token)
    assert principal.role == "client" and principal.client_id == "c-9"
    principal.require_own_record("c-9")
    with pytest.raises(NotFound):
        principal.require_own_record("c-10")
    with pytest.raises(ValueError):
        issue_token(SECRET, "u", "client", "org-1", ["clinic-1"])
    with pytest.raises(ValueError):
        issue_token(SECRET, "u", "clinician", "org-1", ["clinic-1"], client_id="c-9")
    staff = verify_token(SECRET, issue_token(SECRET, "u", "clinician", "org-1", ["clinic-1"]))
    staff.require_own_record("anyone")  # staff are judged by their role rules instead
