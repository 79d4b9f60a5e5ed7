"""Calendar feeds as plain rules: who manages them, what is stored, when they open."""
import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from services.scheduling.domain import feeds
from shared.errors import Conflict, Forbidden, InvalidInput, Unauthorized

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class Recorded:
    def __init__(self, new, sequence):
        self.name, self.data, self.sequence = new.name, new.data, sequence


def test_a_secret_has_32_random_bytes_and_only_its_digest_is_recorded():
    secret = feeds.new_secret()
    assert len(secret) >= 43 and secret != feeds.new_secret()
    (event,) = feeds.issue("f-1", secret, "dr-1", ["clinic-1"], "dr-1", NOW, 90)
    assert event.name == "CalendarFeedIssued"
    assert event.data["token_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(event.data)
    assert event.data["expires_at"] == "2027-03-01T12:00:00Z"
    with pytest.raises(ValueError):
        feeds.issue("f-1", "short", "dr-1", ["clinic-1"], "dr-1", NOW, 90)
    for days in (0, 367, True, "90"):
        with pytest.raises(InvalidInput) as caught:
            feeds.issue("f-1", secret, "dr-1", ["clinic-1"], "dr-1", NOW, days)
        assert "expires_in_days" in caught.value.fields


@pytest.mark.parametrize("role, user, allowed", [
    ("clinician", "dr-1", True), ("admin", "anyone", True), ("clinician", "dr-2", False),
    ("front_desk", "dr-1", False), ("billing", "dr-1", False)])
def test_only_the_clinician_themself_or_an_admin_manages_feeds(role, user, allowed):
    if allowed:
        feeds.require_may_manage(role, user, "dr-1")
    else:
        with pytest.raises(Forbidden):
            feeds.require_may_manage(role, user, "dr-1")


def test_a_feed_opens_until_it_expires_or_is_revoked():
    issued = feeds.issue("f-1", feeds.new_secret(), "dr-1", ["*"], "admin", NOW, 1)
    feed = feeds.Feed.from_events("f-1", [Recorded(e, 1) for e in issued])
    feeds.require_usable(feed, "dr-1", NOW + timedelta(hours=23))
    for other, clinician in ((None, "dr-1"), (feed, "dr-2")):
        with pytest.raises(Unauthorized, match="invalid feed token"):
            feeds.require_usable(other, clinician, NOW)
    with pytest.raises(Unauthorized, match="expired"):
        feeds.require_usable(feed, "dr-1", NOW + timedelta(days=1))
    revoked = feeds.revoke(feed, "dr-1", NOW)
    feed = feeds.Feed.from_events("f-1", [Recorded(e, i) for i, e in
                                          enumerate(issued + revoked, 1)])
    assert feed.version == 2
    with pytest.raises(Unauthorized, match="revoked"):
        feeds.require_usable(feed, "dr-1", NOW)
    with pytest.raises(Conflict):
        feeds.revoke(feed, "admin", NOW)
