"""Calendar feeds: the secret URL a calendar app subscribes to for one clinician's .ics.

Calendar apps cannot send an Authorization header, so the feed URL carries a
secret of its own (`?feed_token=`): 32 random bytes, shown once when the feed
is issued. Only its SHA-256 is stored (an event kept inside scheduling and its
read model), so neither the store nor a backup can open a feed. Each feed has
an id, expires (90 days unless configured otherwise) and can be revoked alone.
The secret opens nothing but this one read-only feed: it is not a bearer token.
Only the clinician themself (token user id = clinician id) or an admin issues,
lists or revokes a clinician's feeds.
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from shared.timeutil import iso, parse_time

SECRET_BYTES = 32
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 366


def new_secret():
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret):
    """What is stored and looked up: the SHA-256 of the secret, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def require_may_manage(role, user_id, clinician_id):
    """The clinician themself or an admin; anybody else is refused."""
    if role == "admin" or (role == "clinician" and user_id == clinician_id):
        return
    raise Forbidden(f"only clinician {clinician_id} or an admin manages this clinician's "
                    "calendar feeds")


def lifetime(days):
    if isinstance(days, bool) or not isinstance(days, int) \
            or not 1 <= days <= MAX_LIFETIME_DAYS:
        raise InvalidInput("a calendar feed lives 1 to 366 days",
                           {"expires_in_days": [f"must be an integer 1-{MAX_LIFETIME_DAYS}"]})
    return timedelta(days=days)


def issue(feed_id, secret, clinician_id, clinic_ids, issued_by, at, days):
    """CalendarFeedIssued: the secret's digest, never the secret."""
    if len(secret) < SECRET_BYTES:
        raise ValueError("a feed secret has at least 32 random bytes")
    return [NewEvent("CalendarFeedIssued", {
        "feed_id": str(feed_id), "clinician_id": clinician_id,
        "token_sha256": digest(secret), "clinic_ids": list(clinic_ids),
        "issued_by": issued_by, "issued_at": iso(at),
        "expires_at": iso(at + lifetime(days))})]


@dataclass
class Feed(Aggregate):
    STREAM = "calendar-feed-{}"

    feed_id: str
    version: int = 0
    clinician_id: str = None
    expires_at: datetime = None
    revoked_at: datetime = None

    def _on_CalendarFeedIssued(self, event, data):
        self.clinician_id = data["clinician_id"]
        self.expires_at = parse_time(data["expires_at"])

    def _on_CalendarFeedRevoked(self, event, data):
        self.revoked_at = parse_time(data["revoked_at"])


def revoke(feed, revoked_by, at):
    if feed.revoked_at is not None:
        raise Conflict(f"calendar feed {feed.feed_id} was already revoked")
    return [NewEvent("CalendarFeedRevoked", {
        "feed_id": feed.feed_id, "clinician_id": feed.clinician_id,
        "revoked_by": revoked_by, "revoked_at": iso(at)})]


def status(expires_at, revoked_at, at):
    if revoked_at is not None:
        return "revoked"
    return "expired" if at >= expires_at else "active"


def require_usable(feed, clinician_id, at):
    """The Feed a secret opens (None: no feed), asked for at this clinician's URL:
    401 when it opens none (unknown secret, another clinician's), was revoked or
    has expired."""
    if feed is None or feed.clinician_id != clinician_id:
        raise Unauthorized("invalid feed token (POST /clinicians/{id}/calendar-feeds "
                           "issues a feed's URL)")
    state = status(feed.expires_at, feed.revoked_at, at)
    if state == "revoked":
        raise Unauthorized("this calendar feed was revoked")
    if state == "expired":
        raise Unauthorized(f"this calendar feed expired at {iso(feed.expires_at)}")
