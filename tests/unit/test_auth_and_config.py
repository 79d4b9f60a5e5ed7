import time

import jwt
import pytest

from shared import config
from shared.encryption import DEV_KEY_ENCRYPTION_KEYS
from tests.support import KEYS
from shared.auth import (
    ClaimNames, IdentityProviderUnavailable, KeySet, OidcVerifier, Principal, SecretVerifier,
    issue_token, principal_from_header,
)
from shared.errors import Forbidden, NotFound, Unauthorized

SECRET = "unit-test-secret-0123456789abcdef0123"
verify_token = SecretVerifier(SECRET).verify


def test_token_round_trip():
    token = issue_token(SECRET, "u-7", "clinician", "org-1", ["clinic-1", "clinic-2"])
    principal = verify_token(token)
    assert principal == Principal("u-7", "clinician", "org-1", ("clinic-1", "clinic-2"))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer nonsense"])
def test_missing_or_malformed_token_is_401(header):
    with pytest.raises(Unauthorized):
        principal_from_header(SecretVerifier(SECRET), header)


def test_wrong_key_and_expired_tokens_are_401():
    with pytest.raises(Unauthorized):
        verify_token(issue_token("another-secret-0123456789abcdef01", "u", "admin",
                                 "org-1", ["*"]))
    expired = jwt.encode({"iss": "praxis", "sub": "u", "role": "admin", "org": "org-1",
                          "clinics": ["*"], "exp": int(time.time()) - 10}, SECRET,
                         algorithm="HS256")
    with pytest.raises(Unauthorized, match="expired"):
        verify_token(expired)


def test_unknown_role_is_refused():
    with pytest.raises(ValueError):
        issue_token(SECRET, "u", "superuser", "org-1", ["*"])
    forged = jwt.encode({"iss": "praxis", "sub": "u", "role": "superuser", "org": "org-1",
                         "clinics": ["*"], "exp": int(time.time()) + 60}, SECRET,
                        algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify_token(forged)


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
    principal = verify_token(token)
    assert principal.role == "client" and principal.client_id == "c-9"
    principal.require_own_record("c-9")
    with pytest.raises(NotFound):
        principal.require_own_record("c-10")
    with pytest.raises(ValueError):
        issue_token(SECRET, "u", "client", "org-1", ["clinic-1"])
    with pytest.raises(ValueError):
        issue_token(SECRET, "u", "clinician", "org-1", ["clinic-1"], client_id="c-9")
    staff = verify_token(issue_token(SECRET, "u", "clinician", "org-1", ["clinic-1"]))
    staff.require_own_record("anyone")  # staff are judged by their role rules instead


# -- OpenID Connect: keys served from memory here; tests/integration/test_oidc.py
# runs the same against a real provider.
ISSUER_URL = "https://idp.example.org/realms/praxis"
AUDIENCE = "urn:praxis:api"


def rsa_jwk(kid):
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, {**public, "kid": kid, "use": "sig"}


def ec_jwk(kid):
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, {**public, "kid": kid, "use": "sig"}


class Provider:
    """A discovery document and a JWKS in memory, counting fetches of each."""

    def __init__(self, *jwks):
        self.jwks = list(jwks)
        self.fetches = []

    def fetch(self, url):
        self.fetches.append(url)
        if url == ISSUER_URL + "/.well-known/openid-configuration":
            return {"issuer": ISSUER_URL, "jwks_uri": ISSUER_URL + "/jwks"}
        assert url == ISSUER_URL + "/jwks"
        return {"keys": self.jwks}

    def jwks_fetches(self):
        return self.fetches.count(ISSUER_URL + "/jwks")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def oidc_claims(**overrides):
    now = int(time.time())
    claims = {"iss": ISSUER_URL, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + 300,
              "praxis_role": "clinician", "praxis_org": "org-1",
              "praxis_clinics": ["clinic-1"]}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(private, kid, alg="RS256", **overrides):
    return jwt.encode(oidc_claims(**overrides), private, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def rsa_key():
    return rsa_jwk("k1")


def verifier_for(provider, clock=None, **kwargs):
    keys = KeySet(ISSUER_URL, min_refresh=60, fetch=provider.fetch, clock=clock or Clock())
    return OidcVerifier(ISSUER_URL, AUDIENCE, keys=keys, **kwargs)


def test_oidc_tokens_map_to_the_principal(rsa_key):
    private, public = rsa_key
    ec_private, ec_public = ec_jwk("e1")
    verifier = verifier_for(Provider(public, ec_public))
    assert verifier.verify(sign(private, "k1")) == \
        Principal("u-1", "clinician", "org-1", ("clinic-1",))
    client = verifier.verify(sign(ec_private, "e1", alg="ES256", praxis_role="client",
                                  praxis_client_id="c-9"))
    assert (client.role, client.client_id) == ("client", "c-9")


def test_claim_names_are_configurable_and_may_be_nested(rsa_key):
    private, public = rsa_key
    names = ClaimNames(user="preferred_username", role="realm_access.roles",
                       organisation="https://praxis.example/org", clinics="clinics",
                       client_id="patient")
    verifier = verifier_for(Provider(public), claims=names)
    token = sign(private, "k1", preferred_username="dr.who",
                 realm_access={"roles": ["offline_access", "admin"]},
                 **{"https://praxis.example/org": "org-2"}, clinics="clinic-1 clinic-2")
    assert verifier.verify(token) == Principal("dr.who", "admin", "org-2",
                                               ("clinic-1", "clinic-2"))


@pytest.mark.parametrize("overrides, message", [
    ({"praxis_role": None}, "names no role"),
    ({"praxis_role": "superuser"}, "names no role"),
    ({"praxis_role": ["admin", "clinician"]}, "names no role"),  # ambiguous
    ({"praxis_org": None}, "organisation claim 'praxis_org'"),
    ({"praxis_clinics": None}, "clinics claim"),
    ({"praxis_role": "client"}, "must name their client record"),
    ({"praxis_client_id": "c-1"}, "only a client's token"),
])
def test_oidc_tokens_lacking_claims_are_401(rsa_key, overrides, message):
    private, public = rsa_key
    with pytest.raises(Unauthorized, match=message):
        verifier_for(Provider(public)).verify(sign(private, "k1", **overrides))


@pytest.mark.parametrize("overrides, message", [
    ({"aud": "urn:other:api"}, "not meant for Praxis"),
    ({"aud": None}, "aud"),
    ({"iss": "https://evil.example.org"}, "issuer 'https://evil.example.org' is not"),
    ({"exp": int(time.time()) - 120}, "expired"),
])
def test_oidc_wrong_audience_issuer_or_expired_is_401(rsa_key, overrides, message):
    private, public = rsa_key
    provider = Provider(public)
    with pytest.raises(Unauthorized, match=message):
        verifier_for(provider).verify(sign(private, "k1", **overrides))
    if "iss" in overrides:
        assert provider.fetches == []  # another issuer's token fetches nothing


def test_algorithm_confusion_and_none_are_refused(rsa_key):
    from cryptography.hazmat.primitives import serialization

    private, public = rsa_key
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT itself refuses to HMAC with a PEM key, so forge the HS256 signature by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
                     + "." + b64(json.dumps(oidc_claims()).encode()))
    forged = signing_input + "." + b64(hmac.new(pem, signing_input.encode(),
                                                hashlib.sha256).digest())
    unsigned = jwt.encode(oidc_claims(), None, algorithm="none", headers={"kid": "k1"})
    verifier = verifier_for(Provider(public))
    for token in (forged, unsigned):
        with pytest.raises(Unauthorized, match="algorithm"):
            verifier.verify(token)
    ec_private, _ = ec_jwk("k1")  # an ES256 token naming the RSA key's kid
    with pytest.raises(Unauthorized, match="does not match its key"):
        verifier.verify(sign(ec_private, "k1", alg="ES256"))


def test_hs256_verifier_refuses_provider_tokens(rsa_key):
    private, _ = rsa_key
    with pytest.raises(Unauthorized):
        verify_token(sign(private, "k1", iss="praxis", role="admin", org="org-1",
                          clinics=["*"]))


def test_unknown_kid_refetches_keys_at_most_once_per_interval(rsa_key):
    private, public = rsa_key
    provider, clock = Provider(public), Clock()
    verifier = verifier_for(provider, clock)
    verifier.verify(sign(private, "k1"))
    assert provider.fetches == [ISSUER_URL + "/.well-known/openid-configuration",
                                ISSUER_URL + "/jwks"]
    rogue, _ = rsa_jwk("rogue")
    for _ in range(20):  # a flood of unknown kids within the interval: no fetch at all
        with pytest.raises(Unauthorized, match="'rogue', which is not among"):
            verifier.verify(sign(rogue, "rogue"))
    assert provider.jwks_fetches() == 1
    # The provider rotates: a new key appears; after the interval one fetch finds it.
    new_private, new_public = rsa_jwk("k2")
    provider.jwks.insert(0, new_public)
    clock.now += 61
    assert verifier.verify(sign(new_private, "k2")).user_id == "u-1"
    assert provider.jwks_fetches() == 2
    verifier.verify(sign(new_private, "k2"))
    verifier.verify(sign(private, "k1"))
    assert provider.jwks_fetches() == 2  # known kids are served from the cache


def test_unreachable_provider_is_503_not_401(rsa_key):
    private, _ = rsa_key

    def down(url):
        raise OSError("connection refused")

    keys = KeySet(ISSUER_URL, fetch=down, clock=Clock())
    with pytest.raises(IdentityProviderUnavailable):
        OidcVerifier(ISSUER_URL, AUDIENCE, keys=keys).verify(sign(private, "k1"))


def test_discovery_must_name_the_configured_issuer(rsa_key):
    private, public = rsa_key
    provider = Provider(public)
    keys = KeySet(ISSUER_URL, fetch=lambda url: {**provider.fetch(url), "issuer": "https://x"},
                  clock=Clock())
    with pytest.raises(IdentityProviderUnavailable):
        OidcVerifier(ISSUER_URL, AUDIENCE, keys=keys).verify(sign(private, "k1"))


# -- what a service refuses to start with (shared.config.check) ---------------
def test_the_development_secret_is_refused_outside_development():
    for env in ({}, {"PRAXIS_TOKEN_SECRET": config.DEV_TOKEN_SECRET}):
        with pytest.raises(config.ConfigError, match="built-in development secret"):
            config.check(config.load("intake", env))
    assert config.check(config.load("intake", {"PRAXIS_ENV": "development"})) == []
    # With an issuer no HS256 token is accepted, so the secret is not needed.
    oidc = {"PRAXIS_OIDC_ISSUER": ISSUER_URL, "PRAXIS_OIDC_AUDIENCE": AUDIENCE,
            "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS}
    assert config.check(config.load("intake", oidc)) == []


def test_the_development_key_encryption_key_is_refused_outside_development():
    signed_in = {"PRAXIS_OIDC_ISSUER": ISSUER_URL, "PRAXIS_OIDC_AUDIENCE": AUDIENCE}
    for keys in ({}, {"PRAXIS_KEY_ENCRYPTION_KEYS": DEV_KEY_ENCRYPTION_KEYS}):
        with pytest.raises(config.ConfigError, match="built-in development key"):
            config.check(config.load("intake", {**signed_in, **keys}))
    for bad in ("k1", "k1:not base64!", "k1:" + "QUJD", ":" + KEYS.split(":")[1]):
        with pytest.raises(config.ConfigError, match="PRAXIS_KEY_ENCRYPTION_KEYS"):
            config.check(config.load("intake", {**signed_in, "PRAXIS_KEY_ENCRYPTION_KEYS": bad}))
    assert config.check(config.load("intake", {**signed_in, "PRAXIS_ENV": "development"})) == []


def test_an_operator_secret_without_issuer_starts_with_a_warning():
    (warning,) = config.check(config.load("intake", {"PRAXIS_TOKEN_SECRET": SECRET,
                                                     "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS}))
    assert "HS256" in warning and "PRAXIS_OIDC_ISSUER" in warning


def test_oidc_settings():
    env = {"PRAXIS_TOKEN_SECRET": SECRET, "PRAXIS_OIDC_ISSUER": ISSUER_URL,
           "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS,
           "PRAXIS_OIDC_AUDIENCE": AUDIENCE, "PRAXIS_OIDC_CLAIM_ROLE": "roles",
           "PRAXIS_OIDC_JWKS_MIN_REFRESH_SECONDS": "5"}
    settings = config.load("notes", env)
    assert config.check(settings) == []
    oidc = config.nameko_config(settings)["PRAXIS_OIDC"]
    assert oidc["claims"] == {"user": "sub", "role": "roles", "organisation": "praxis_org",
                              "clinics": "praxis_clinics", "client_id": "praxis_client_id"}
    assert (oidc["issuer"], oidc["audience"], oidc["jwks_min_refresh_seconds"]) == \
        (ISSUER_URL, AUDIENCE, 5.0)
    assert config.nameko_config(config.load("notes", {}))["PRAXIS_OIDC"] is None
    for bad, message in [({"PRAXIS_OIDC_AUDIENCE": ""}, "PRAXIS_OIDC_AUDIENCE is not set"),
                         ({"PRAXIS_OIDC_ISSUER": "http://idp.example.org"}, "https"),
                         ({"PRAXIS_ENV": "dev"}, "PRAXIS_ENV is 'dev'")]:
        with pytest.raises(config.ConfigError, match=message):
            config.check(config.load("notes", {**env, **bad}))
    loopback = {**env, "PRAXIS_OIDC_ISSUER": "http://127.0.0.1:9000"}
    assert config.check(config.load("notes", loopback)) == []


# -- make token (python -m shared.cli token) -----------------------------------
def run_token_command(monkeypatch, capsys, env, *args):
    from shared import cli

    for name in ("PRAXIS_TOKEN_SECRET", "PRAXIS_OIDC_ISSUER", "PRAXIS_OIDC_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = cli.main(["token", *args])
    out, err = capsys.readouterr()
    return status, out.strip(), err


def test_token_command_acts_as_a_given_clinician_or_client(monkeypatch, capsys):
    env = {"PRAXIS_TOKEN_SECRET": SECRET}
    status, token, _ = run_token_command(monkeypatch, capsys, env, "--role", "clinician",
                                         "--user", "dr-lee", "--clinic", "clinic-2")
    assert status == 0
    assert verify_token(token) == Principal("dr-lee", "clinician", "org-1", ("clinic-2",))
    status, token, _ = run_token_command(monkeypatch, capsys, env, "--role", "client",
                                         "--client-id", "c-9")
    assert status == 0 and verify_token(token).client_id == "c-9"
    status, out, err = run_token_command(monkeypatch, capsys, env, "--role", "client")
    assert (status, out) == (2, "") and "CLIENT_ID=" in err
    status, token, _ = run_token_command(monkeypatch, capsys, {})
    assert SecretVerifier(config.DEV_TOKEN_SECRET).verify(token).role == "admin"


def test_token_command_refuses_when_an_issuer_is_configured(monkeypatch, capsys):
    status, out, err = run_token_command(monkeypatch, capsys, {
        "PRAXIS_OIDC_ISSUER": ISSUER_URL, "PRAXIS_OIDC_AUDIENCE": AUDIENCE})
    assert (status, out) == (2, "")
    assert f"accept only tokens of {ISSUER_URL}" in err


def test_the_mail_relay_for_reminders_is_optional_and_checked():
    from shared.config import ConfigError, smtp

    assert smtp({}) is None and smtp({"PRAXIS_SMTP_HOST": " "}) is None
    relay = {"PRAXIS_SMTP_HOST": "relay.example.org", "PRAXIS_SMTP_FROM": "r@example.org"}
    assert smtp(relay) == {"host": "relay.example.org", "port": 587, "starttls": True,
                           "username": None, "password": None, "sender": "r@example.org"}
    assert smtp({**relay, "PRAXIS_SMTP_PORT": "25", "PRAXIS_SMTP_STARTTLS": "false",
                 "PRAXIS_SMTP_USERNAME": "u", "PRAXIS_SMTP_PASSWORD": "p"}) == {
        "host": "relay.example.org", "port": 25, "starttls": False, "username": "u",
        "password": "p", "sender": "r@example.org"}
    for bad in ({"PRAXIS_SMTP_FROM": ""}, {"PRAXIS_SMTP_STARTTLS": "maybe"},
                {"PRAXIS_SMTP_USERNAME": "u"}, {"PRAXIS_SMTP_PORT": "x"}):
        with pytest.raises(ConfigError):
            smtp({**relay, **bad})
