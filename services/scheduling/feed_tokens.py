"""Signed tokens for one clinician's calendar feed (.ics).

Calendar apps subscribe to a URL and cannot send an Authorization header, so the
feed URL carries its own token: `?feed_token=...`. It is not the user's bearer
token, on purpose: a URL ends up in calendar apps, proxies and logs, so what it
carries must unlock nothing but this one read-only feed. The feed token is a JWT
signed with the service's token secret, with an audience of its own; the API's
bearer check refuses it (it has no role), and the feed refuses bearer tokens
(they have no such audience). It names the clinician, the organisation and the
clinics the issuer could see, and expires (a year by default): issuing a new
one does not revoke the old, rotating PRAXIS_TOKEN_SECRET does.
"""
import time

import jwt

from shared.auth import ALGORITHM, ISSUER
from shared.errors import Unauthorized

AUDIENCE = "praxis:calendar-feed"
DEFAULT_TTL_SECONDS = 365 * 24 * 3600


def issue(secret, principal, clinician_id, ttl_seconds=DEFAULT_TTL_SECONDS, now=None):
    now = int(now if now is not None else time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": clinician_id,
              "org": principal.organisation_id, "clinics": list(principal.clinic_ids),
              "issued_by": principal.user_id, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), now + ttl_seconds


def verify(secret, token, clinician_id):
    """-> (organisation_id, clinic ids) the feed may show; Unauthorized otherwise."""
    if not token:
        raise Unauthorized("missing feed_token (ask POST /clinicians/{id}/calendar-feed for "
                           "the feed's URL)")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            audience=AUDIENCE, options={"require": ["exp", "sub", "aud"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid feed token: {exc}")
    if claims["sub"] != clinician_id or not isinstance(claims.get("org"), str) \
            or not isinstance(claims.get("clinics"), list):
        raise Unauthorized("this feed token is for another calendar")
    return claims["org"], tuple(str(c) for c in claims["clinics"])
