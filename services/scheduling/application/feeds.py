"""Calendar feeds: issued (the secret shown once) and revoked."""
import uuid

from shared.errors import NotFound
from shared.timeutil import utc_now

from ..domain import feeds
from ..domain.feeds import Feed
from ..queries import records, views


class FeedCommands:
    def issue_calendar_feed(self, caller, clinician_id, days=feeds.DEFAULT_LIFETIME_DAYS,
                            now=None):
        """A new feed: its secret is in this answer and nowhere else, ever."""
        principal = caller.principal
        profile = self._feed_owner(principal, clinician_id)
        now = now or utc_now()
        organisation_id = principal.organisation_id
        clinic_id = next(c for c in profile["clinic_ids"]
                         if principal.sees(organisation_id, c))
        secret = feeds.new_secret()
        with self.store.unit_of_work() as uow:
            feed = uow.get(Feed, str(uuid.uuid4()))
            uow.save(feed, caller.context(organisation_id, clinic_id), feeds.issue(
                feed.feed_id, secret, clinician_id, principal.clinic_ids, principal.user_id,
                now, days))
            record = records.feed_row(uow.conn, feed.feed_id)
        return {**views.calendar_feed(record, now), "feed_token": secret,
                "path": f"/clinicians/{clinician_id}/calendar.ics?feed_token={secret}"}

    def revoke_calendar_feed(self, caller, clinician_id, feed_id, now=None):
        principal = caller.principal
        self._feed_owner(principal, clinician_id)
        now = now or utc_now()
        with self.store.unit_of_work() as uow:
            record = records.feed_row(uow.conn, feed_id)
            if record is None or (record["organisation_id"], record["clinician_id"]) \
                    != (principal.organisation_id, clinician_id):
                raise NotFound("calendar feed not found")
            feed = uow.get(Feed, str(feed_id))
            uow.save(feed, caller.context_of(record),
                     feeds.revoke(feed, principal.user_id, now))
            record = records.feed_row(uow.conn, feed_id)
        return views.calendar_feed(record, now)
