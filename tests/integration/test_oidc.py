"""Sign-in through a real OpenID Connect provider (npm's oidc-provider, run by
node from tests/oidc/, installed there by `make test-provider`): its tokens
reach real service containers, which check issuer, audience, expiry and keys,
and fetch its keys again exactly when a token names a key they have not seen."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from nameko.standalone.rpc import ClusterRpcProxy

from services.intake.service import Service as Intake
from shared import config
from shared.auth import Principal, verifier_from_config
from shared.errors import Unauthorized
from shared.runtime import TokenVerifier
from shared.web import http
from tests.support import SECRET, RunningService, free_port, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "tests" / "oidc"
AUDIENCE = "urn:praxis:api"
ROLE_CLAIM = "https://praxis.example/role"  # a namespaced claim, as many providers want

CLIENTS = {
    "praxis-admin": {ROLE_CLAIM: "admin", "praxis_org": "org-1", "praxis_clinics": ["*"]},
    "clinic-2-desk": {ROLE_CLAIM: "front_desk", "praxis_org": "org-1",
                      "praxis_clinics": ["clinic-2"]},
    "client-portal": {ROLE_CLAIM: "client", "praxis_org": "org-1",
                      "praxis_clinics": ["clinic-1"], "praxis_client_id": "c-9",
                      "praxis_user": "portal-user-7"},
}
RESOURCES = {
    AUDIENCE: {"audience": AUDIENCE, "ttl": 300, "alg": "RS256"},
    "urn:praxis:api:es256": {"audience": AUDIENCE, "ttl": 300, "alg": "ES256"},
    "urn:praxis:api:short-lived": {"audience": AUDIENCE, "ttl": 1, "alg": "RS256"},
    "urn:other:api": {"audience": "urn:other:api", "ttl": 300, "alg": "RS256"},
}


def private_jwk(kid, curve=False):
    if curve:
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    jwk.pop("key_ops", None)  # oidc-provider 8 would not verify with a sign-only key
    return key, {**jwk, "kid": kid, "use": "sig", "alg": "ES256" if curve else "RS256"}


class OidcProvider:
    """oidc-provider as a node process on a port of its own."""

    def __init__(self, workdir, keys, port=None):
        self.workdir, self.keys = workdir, keys
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        config = self.workdir / f"oidc-{self.port}.json"
        config.write_text(json.dumps({
            "port": self.port, "issuer": self.issuer, "keys": self.keys,
            "clients": [{"client_id": name, "client_secret": f"{name}-secret-0123456789abcdef",
                         "claims": claims} for name, claims in CLIENTS.items()],
            "resources": RESOURCES}))
        self.log = self.workdir / f"oidc-{self.port}.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(["node", "provider.mjs", str(config)],
                                            cwd=PROVIDER_DIR, stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_until(self._discoverable, timeout=30, message=f"oidc-provider at {self.issuer}")
        return self

    def _discoverable(self):
        if self.process.poll() is not None:
            raise AssertionError(f"oidc-provider exited with {self.process.returncode}:\n"
                                 + self.log.read_text())
        try:
            url = self.issuer + "/.well-known/openid-configuration"
            return requests.get(url, timeout=2).json()["issuer"] == self.issuer
        except (requests.RequestException, ValueError, KeyError):
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self, keys):
        """The provider rotates its signing key: a new key set, the same issuer."""
        self.stop()
        self.keys = keys
        return self.start()

    def token(self, client="praxis-admin", resource=AUDIENCE):
        response = requests.post(self.issuer + "/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": client,
            "client_secret": f"{client}-secret-0123456789abcdef", "resource": resource})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def jwks_fetches(self):
        return requests.get(self.issuer + "/_counts", timeout=5).json().get("/jwks", 0)


@pytest.fixture(scope="module")
def keys():
    return {"k1": private_jwk("k1"), "e1": private_jwk("e1", curve=True),
            "k2": private_jwk("k2")}


@pytest.fixture
def provider(tmp_path, keys):
    if shutil.which("node") is None:
        pytest.skip("node is not installed (the test provider runs on it)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the test OpenID provider is not installed: run `make test-provider` "
                    "(npm ci --prefix tests/oidc)")
    running = OidcProvider(tmp_path, [keys["k1"][1], keys["e1"][1]]).start()
    yield running
    running.stop()


def oidc_settings(provider, **overrides):
    return {"PRAXIS_OIDC_ISSUER": provider.issuer, "PRAXIS_OIDC_AUDIENCE": AUDIENCE,
            "PRAXIS_OIDC_CLAIM_ROLE": ROLE_CLAIM, **overrides}


class WhoAmI:
    """A service of the kernel's web layer and verifier alone (no broker, no
    database), answering with the Principal its caller's token maps to."""
    name = "whoami"
    verify = TokenVerifier()

    @http("GET", "/healthz", public=True)
    def healthz(self, request):
        return {"status": "ok"}

    @http("GET", "/whoami", public=True)  # checks the token itself, outside the route policy
    def whoami(self, request):
        header = request.headers.get("Authorization") or ""
        principal = self.verify(header.removeprefix("Bearer ").strip())
        return {"user_id": principal.user_id, "role": principal.role,
                "organisation_id": principal.organisation_id,
                "clinic_ids": list(principal.clinic_ids), "client_id": principal.client_id}


def whoami(provider, sqlite_url, **overrides):
    # No AMQP extension: the URI is never dialled.
    return RunningService(WhoAmI, sqlite_url, "amqp://guest:guest@127.0.0.1:5672/",
                          **oidc_settings(provider, **overrides))


def test_provider_tokens_map_to_principals(provider, sqlite_url):
    """The verifier a service builds from its settings, against the real provider."""
    settings = config.load("intake", {"PRAXIS_TOKEN_SECRET": SECRET, **oidc_settings(
        provider, PRAXIS_OIDC_CLAIM_USER="praxis_user")})
    verifier = verifier_from_config(config.nameko_config(settings))
    assert verifier.verify(provider.token("client-portal")) == Principal(
        "portal-user-7", "client", "org-1", ("clinic-1",), client_id="c-9")
    # The user claim is configurable; without praxis_user the token has no user.
    with pytest.raises(Unauthorized, match="token has no user claim 'praxis_user'"):
        verifier.verify(provider.token("praxis-admin"))
    default = verifier_from_config(config.nameko_config(config.load("intake", {
        "PRAXIS_TOKEN_SECRET": SECRET, **oidc_settings(provider)})))
    assert default.verify(provider.token("clinic-2-desk")) == Principal(
        "clinic-2-desk", "front_desk", "org-1", ("clinic-2",))  # sub: the OAuth client
    with whoami(provider, sqlite_url, PRAXIS_OIDC_CLAIM_USER="praxis_user") as service:
        answer = service.api.get("/whoami", bearer=provider.token("client-portal"))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"user_id": "portal-user-7", "role": "client",
                                 "organisation_id": "org-1", "clinic_ids": ["clinic-1"],
                                 "client_id": "c-9"}


def test_a_real_service_signs_in_with_the_provider(provider, sqlite_url, amqp_uri):
    with RunningService(Intake, sqlite_url, amqp_uri, **oidc_settings(provider)) as intake:
        admin = provider.token("praxis-admin")
        created = intake.api.post("/clients", bearer=admin, json={
            "organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada",
            "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"}})
        assert created.status_code == 201, created.text
        client_id = created.json()["client_id"]
        es256 = provider.token("praxis-admin", resource="urn:praxis:api:es256")
        assert jwt.get_unverified_header(es256)["alg"] == "ES256"
        assert intake.api.get(f"/clients/{client_id}", bearer=es256).status_code == 200
        # Tenancy follows the mapped clinics: clinic-2's desk does not see clinic-1.
        other = intake.api.get(f"/clients/{client_id}", bearer=provider.token("clinic-2-desk"))
        assert other.status_code == 404
        # RPC entrypoints verify with the same verifier, and so the same keys.
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as rpc:
            assert rpc.intake.client(admin, client_id)["name"] == "Ada"
        assert provider.jwks_fetches() == 1
        # A development token means nothing once an issuer is configured.
        assert intake.api.get(f"/clients/{client_id}").status_code == 401


def test_expired_wrong_audience_and_wrong_issuer_are_401(provider, sqlite_url, tmp_path, keys):
    # The same keys behind another issuer: only the issuer check can refuse its tokens.
    impostor = OidcProvider(tmp_path, [keys["k1"][1]]).start()
    try:
        foreign = impostor.token()
    finally:
        impostor.stop()
    with whoami(provider, sqlite_url, PRAXIS_OIDC_LEEWAY_SECONDS="0") as service:
        short = provider.token(resource="urn:praxis:api:short-lived")
        time.sleep(2.1)  # outlives its 1 s
        cases = {
            "expired": (short, "invalid token: Signature has expired"),
            "audience": (provider.token(resource="urn:other:api"),
                         "token is not meant for Praxis (audience is not 'urn:praxis:api')"),
            "issuer": (foreign, f"token issuer {impostor.issuer!r} is not the identity "
                                f"provider {provider.issuer!r}"),
        }
        for case, (token, message) in cases.items():
            response = service.api.get("/whoami", bearer=token)
            assert (response.status_code, response.json()["message"]) == (401, message), case
        assert service.api.get("/whoami", bearer=provider.token()).status_code == 200


def test_unknown_keys_are_401_and_rotation_refetches_once(provider, sqlite_url, keys):
    with whoami(provider, sqlite_url, PRAXIS_OIDC_JWKS_MIN_REFRESH_SECONDS="1") as service:
        assert service.api.get("/whoami", bearer=provider.token()).status_code == 200
        assert provider.jwks_fetches() == 1
        # A well-formed token signed by a key the provider never published.
        rogue_key, _ = private_jwk("rogue")
        now = int(time.time())
        rogue = jwt.encode({"iss": provider.issuer, "aud": AUDIENCE, "sub": "mallory",
                            "iat": now, "exp": now + 300, ROLE_CLAIM: "admin",
                            "praxis_org": "org-1", "praxis_clinics": ["*"]},
                           rogue_key, algorithm="RS256", headers={"kid": "rogue"})
        for _ in range(10):  # a flood: one refetch at most per second, not one each
            response = service.api.get("/whoami", bearer=rogue)
            assert response.status_code == 401
            assert response.json()["message"] == ("token signed with key 'rogue', which is "
                                                  "not among the identity provider's keys")
        assert provider.jwks_fetches() <= 2

        # Rotation: the provider now signs with k2 (and still publishes k1).
        provider.restart([keys["k2"][1], keys["k1"][1], keys["e1"][1]])
        time.sleep(1.1)  # past the refresh interval since the last fetch
        rotated = provider.token()
        assert jwt.get_unverified_header(rotated)["kid"] == "k2"
        assert provider.jwks_fetches() == 0
        response = service.api.get("/whoami", bearer=rotated)
        assert response.status_code == 200, response.text
        assert provider.jwks_fetches() == 1  # fetched again exactly for the unknown kid
        for _ in range(3):
            assert service.api.get("/whoami", bearer=provider.token()).status_code == 200
        assert provider.jwks_fetches() == 1


def test_a_service_refuses_to_start_with_the_development_secret(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PRAXIS_")}
    env["PRAXIS_INTAKE_DATABASE_URL"] = f"sqlite:///{tmp_path}/intake.db"
    result = subprocess.run([sys.executable, "-m", "shared.runner", "intake"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "praxis intake refuses to start: no PRAXIS_OIDC_ISSUER is set and " \
           "PRAXIS_TOKEN_SECRET is unset or the built-in development secret" in result.stderr
