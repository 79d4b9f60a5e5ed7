"""Bearer tokens (signed JWT) and the tenancy rules every request obeys.

A token names the user, one role, one organisation and the clinics the user
works at ("*" for every clinic of the organisation). Records of another
organisation or clinic are invisible (404) when read by id, and forbidden
(403) when a request names them explicitly.

Two ways to sign in, never both at once (verifier_from_config picks):
- OidcVerifier: the organisation's OpenID Connect provider signs RS256/ES256
  access tokens; issuer and audience are checked, keys come from its JWKS
  (found through its discovery document), and claims are mapped to the
  Principal by configurable names (ClaimNames).
- SecretVerifier: HS256 tokens signed with PRAXIS_TOKEN_SECRET, as
  `make token` issues them; for development (see shared/config.check).
"""
import json
import logging
import re
import threading
import time
import urllib.request
from dataclasses import dataclass

import jwt

from . import audit
from . import care_team as care_teams
from .errors import Forbidden, NotFound, PraxisError, Unauthorized
from .limits import ID_PATTERN, MAX_USER_ID

ALGORITHM = "HS256"
ISSUER = "praxis"
# Only asymmetric algorithms from a provider: an HS256 token "signed" with the
# public key's text, or alg "none", never reaches a key.
OIDC_ALGORITHMS = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}
# privacy_officer reads the audit trail of access and break-glass lists, never records.
ROLES = ("admin", "clinician", "front_desk", "billing", "integrator", "client",
         "privacy_officer")
ALL_CLINICS = "*"

log = logging.getLogger(__name__)


class IdentityProviderUnavailable(PraxisError):
    """The provider's keys could not be fetched: not the caller's fault, so not 401."""
    status = 503
    code = "identity_provider_unavailable"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    organisation_id: str
    clinic_ids: tuple
    client_id: str = None  # set for role "client": the one record they may reach

    def sees(self, organisation_id, clinic_id):
        return organisation_id == self.organisation_id and (
            ALL_CLINICS in self.clinic_ids or clinic_id in self.clinic_ids)

    def require_clinic(self, organisation_id, clinic_id):
        """For a request that names an organisation and clinic to act in."""
        if not self.sees(organisation_id, clinic_id):
            # The ids are not echoed: a request names them, at any length.
            raise Forbidden("not allowed to act in that clinic",
                            {"clinic_id": ["not one of your clinics"]})

    def require_visible(self, record, what="record", care_team=True):
        """For a record read by id: another tenant's record does not exist for you,
        nor, for a clinician, a client they do not care for (shared/care_team.py;
        care_team=False only where break-glass is asked for)."""
        if record is None or not self.sees(record["organisation_id"], record["clinic_id"]):
            raise NotFound(f"{what} not found")
        # Every load by id passes here: the request's audit row names the client.
        audit.touching(record.get("client_id"), record["clinic_id"])
        if care_team:
            care_teams.require(self, record)
        return record

    def require_own_record(self, client_id):
        """A client reaches their own record only; staff pass (their role rules apply)."""
        if self.role == "client" and self.client_id != str(client_id):
            raise NotFound("client not found")

    def require_role(self, *roles):
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not do this; needs one of {', '.join(roles)}")

    def clinic_filter(self):
        """None when every clinic of the organisation is visible, else the clinic ids."""
        return None if ALL_CLINICS in self.clinic_ids else list(self.clinic_ids)


@dataclass(frozen=True)
class ClaimNames:
    """Which token claim carries each part of the Principal. A name is looked up
    as is first, then as a dotted path into nested objects (realm_access.roles)."""
    user: str = "sub"
    role: str = "praxis_role"
    organisation: str = "praxis_org"
    clinics: str = "praxis_clinics"
    client_id: str = "praxis_client_id"  # not "client_id": that is the OAuth client (RFC 9068)


DEV_CLAIMS = ClaimNames(user="sub", role="role", organisation="org", clinics="clinics",
                        client_id="client_id")
_ABSENT = object()


def _claim(claims, name):
    if name in claims:
        return claims[name]
    value = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def principal_from_claims(claims, names):
    user = _claim(claims, names.user)
    if not isinstance(user, str) or not user:
        raise Unauthorized(f"token has no user claim {names.user!r}")
    if len(user) > MAX_USER_ID or not re.fullmatch(ID_PATTERN, user):
        # A user id is stored in String(64) columns (recorded_by, issued_by, ...).
        raise Unauthorized(f"token claim {names.user!r} is longer than {MAX_USER_ID} "
                           "characters or has some other than letters, digits and . _ - @ : |")
    role = _claim(claims, names.role)
    if isinstance(role, list):  # providers often send a list of roles: exactly one must be ours
        ours = [r for r in role if r in ROLES]
        role = ours[0] if len(ours) == 1 else role
    if role not in ROLES:
        raise Unauthorized(f"token claim {names.role!r} names no role of Praxis (one of "
                           f"{', '.join(ROLES)})")
    org = _claim(claims, names.organisation)
    if not isinstance(org, str) or not org:
        raise Unauthorized(f"token has no organisation claim {names.organisation!r}")
    clinics = _claim(claims, names.clinics)
    if isinstance(clinics, str):  # a space- or comma-separated list, as some providers send
        clinics = clinics.replace(",", " ").split()
    if not isinstance(clinics, list) or not all(isinstance(c, str) for c in clinics):
        raise Unauthorized(f"token has no clinics claim {names.clinics!r} (a list of clinic ids, "
                           "'*' for all)")
    client_id = _claim(claims, names.client_id)
    client_id = None if client_id is _ABSENT else client_id
    if role == "client" and not isinstance(client_id, str):
        raise Unauthorized(f"a client's token must name their client record in claim "
                           f"{names.client_id!r}")
    if role != "client" and client_id is not None:
        raise Unauthorized(f"only a client's token may carry claim {names.client_id!r}")
    return Principal(user, role, org, tuple(clinics), client_id)


def issue_token(secret, user_id, role, organisation_id, clinic_ids, ttl_seconds=8 * 3600,
                client_id=None):
    """A development token (HS256, the local secret), as SecretVerifier accepts it."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if (role == "client") != (client_id is not None):
        raise ValueError("a client_id goes with role 'client', and only with it")
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": user_id, "role": role, "org": organisation_id,
              "clinics": list(clinic_ids), "iat": now, "exp": now + ttl_seconds}
    if client_id is not None:
        claims["client_id"] = client_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class SecretVerifier:
    """HS256 tokens signed with the local secret (development)."""

    def __init__(self, secret):
        self.secret = secret

    def verify(self, token):
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                options={"require": ["exp", "sub", "iss"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}")
        return principal_from_claims(claims, DEV_CLAIMS)


def fetch_json(url, timeout=5, limit=1 << 20):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read(limit))


class KeySet:
    """The provider's signing keys by kid: fetched on first use, again when older
    than max_age, and on an unknown kid (rotation) at most once per
    min_refresh seconds, so a flood of made-up kids cannot hammer the provider."""

    def __init__(self, issuer, min_refresh=60.0, max_age=3600.0, fetch=fetch_json,
                 clock=time.monotonic):
        self.issuer = issuer
        self.min_refresh, self.max_age = min_refresh, max_age
        self.fetch, self.clock = fetch, clock
        self._lock = threading.Lock()
        self._jwks_uri = None
        self._keys = None         # kid -> (PyJWK, its JWK dict)
        self._fetched = None      # when the keys in hand were fetched
        self._attempted = None    # when a fetch was last tried (rate limit, failures too)

    def key(self, kid):
        with self._lock:
            now = self.clock()
            due = self._keys is None or now - self._fetched >= self.max_age
            unknown = self._keys is not None and kid not in self._keys
            may = self._attempted is None or now - self._attempted >= self.min_refresh
            if (due or unknown) and may:
                self._refresh(now)
            if self._keys is None:
                raise IdentityProviderUnavailable(
                    f"the identity provider's keys could not be fetched from {self.issuer}; "
                    "try again shortly")
            found = self._keys.get(kid)
        if found is None:
            raise Unauthorized(f"token signed with key {kid!r}, which is not among the "
                               "identity provider's keys")
        return found

    def _refresh(self, now):
        self._attempted = now
        try:
            if self._jwks_uri is None:
                document = self.fetch(self.issuer.rstrip("/") +
                                      "/.well-known/openid-configuration")
                if document.get("issuer") != self.issuer:
                    raise ValueError(f"discovery names issuer {document.get('issuer')!r}")
                self._jwks_uri = document["jwks_uri"]
            keys = {}
            for data in self.fetch(self._jwks_uri).get("keys", []):
                if not isinstance(data, dict) or data.get("use", "sig") != "sig" \
                        or not isinstance(data.get("kid"), str):
                    continue
                try:
                    keys[data["kid"]] = (jwt.PyJWK(data), data)
                except jwt.PyJWTError:
                    continue  # a key type we cannot use; others may still do
        except Exception as exc:  # keep the keys in hand; the next try waits min_refresh
            log.warning("fetching the identity provider's keys failed: %s", exc)
            return
        self._keys, self._fetched = keys, now


class OidcVerifier:
    """Access tokens (JWT) from the organisation's OpenID Connect provider."""

    def __init__(self, issuer, audience, claims=ClaimNames(), leeway=30, keys=None):
        self.issuer, self.audience, self.claims, self.leeway = issuer, audience, claims, leeway
        self.keys = keys or KeySet(issuer)

    def verify(self, token):
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}")
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in OIDC_ALGORITHMS:
            raise Unauthorized(f"token algorithm {alg!r} is not accepted; the identity "
                               f"provider's tokens are signed with {' or '.join(OIDC_ALGORITHMS)}")
        # Before any key lookup: another issuer's tokens never make us fetch keys.
        if unverified.get("iss") != self.issuer:
            raise Unauthorized(f"token issuer {unverified.get('iss')!r} is not the identity "
                               f"provider {self.issuer!r}")
        if not isinstance(kid, str):
            raise Unauthorized("token header names no signing key (kid)")
        key, data = self.keys.key(kid)
        kty, crv = OIDC_ALGORITHMS[alg]
        if data.get("kty") != kty or data.get("crv") != crv or data.get("alg", alg) != alg:
            raise Unauthorized(f"token algorithm {alg!r} does not match its key {kid!r}")
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], issuer=self.issuer,
                                audience=self.audience, leeway=self.leeway,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.InvalidAudienceError:
            raise Unauthorized(f"token is not meant for Praxis (audience is not "
                               f"{self.audience!r})")
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}")
        return principal_from_claims(claims, self.claims)


def verifier_from_config(config):
    """From a service's nameko config (shared.config.nameko_config)."""
    oidc = config.get("PRAXIS_OIDC")
    if not oidc:
        return SecretVerifier(config["PRAXIS_TOKEN_SECRET"])
    keys = KeySet(oidc["issuer"], min_refresh=oidc["jwks_min_refresh_seconds"])
    return OidcVerifier(oidc["issuer"], oidc["audience"], ClaimNames(**oidc["claims"]),
                        leeway=oidc["leeway_seconds"], keys=keys)


def principal_from_header(verifier, header):
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    return verifier.verify(header[len("Bearer "):].strip())
