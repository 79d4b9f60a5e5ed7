"""Bearer tokens (signed JWT) and the tenancy rules every request obeys.

A token names the user, one role, one organisation and the clinics the user
works at ("*" for every clinic of the organisation). Records of another
organisation or clinic are invisible (404) when read by id, and forbidden
(403) when a request names them explicitly.
"""
import time
from dataclasses import dataclass

import jwt

from .errors import Forbidden, NotFound, Unauthorized

ALGORITHM = "HS256"
ISSUER = "praxis"
# privacy_officer reads the audit trail of access and break-glass lists, never records.
ROLES = ("admin", "clinician", "front_desk", "billing", "integrator", "client",
         "privacy_officer")
ALL_CLINICS = "*"


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
            raise Forbidden(f"not allowed to act in clinic {clinic_id!r} of organisation "
                            f"{organisation_id!r}", {"clinic_id": ["not one of your clinics"]})

    def require_visible(self, record, what="record"):
        """For a record read by id: another tenant's record does not exist for you."""
        if record is None or not self.sees(record["organisation_id"], record["clinic_id"]):
            raise NotFound(f"{what} not found")
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


def issue_token(secret, user_id, role, organisation_id, clinic_ids, ttl_seconds=8 * 3600,
                client_id=None):
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


def verify_token(secret, token):
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "sub", "iss"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}")
    role, org, clinics = claims.get("role"), claims.get("org"), claims.get("clinics")
    if role not in ROLES or not isinstance(org, str) or not isinstance(clinics, list):
        raise Unauthorized("token lacks role, organisation or clinics")
    client_id = claims.get("client_id")
    if (role == "client") != isinstance(client_id, str):
        raise Unauthorized("a client token must name its client, and only a client token")
    return Principal(claims["sub"], role, org, tuple(str(c) for c in clinics), client_id)


def principal_from_header(secret, header):
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    return verify_token(secret, header[len("Bearer "):].strip())
