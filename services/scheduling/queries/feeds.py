"""A clinician's calendar feeds, and the .ics a feed's secret opens."""
from datetime import timedelta

from sqlalchemy import select

from shared.errors import Unauthorized
from shared.timeutil import utc_now

from ..adapters import icalendar
from ..domain import feeds
from ..read_models import aware
from ..read_models.calendar import appointments
from . import records, views

FEED_HISTORY = timedelta(days=60)  # how far back a calendar feed reaches


class FeedQueries:
    def _feed_owner(self, principal, clinician_id):
        """The clinician's profile, for the clinician themself or an admin: 404 for a
        clinician the token cannot see, 403 for anybody else."""
        principal.require_role("admin", "clinician")
        profile = self.clinician(principal, clinician_id)
        feeds.require_may_manage(principal.role, principal.user_id, clinician_id)
        return profile

    def calendar_feeds(self, principal, clinician_id, now=None):
        self._feed_owner(principal, clinician_id)
        now = now or utc_now()
        with self.store.read() as conn:
            rows = records.clinician_feeds(conn, principal.organisation_id, clinician_id)
        return {"clinician_id": clinician_id,
                "feeds": [views.calendar_feed(r, now) for r in rows]}

    def calendar_ics(self, secret, clinician_id, now=None):
        """The .ics the feed's secret opens: the clinician's appointments at the
        clinics stored with the feed, in the feed's organisation."""
        now = now or utc_now()
        if not secret:
            raise Unauthorized("missing feed_token (POST /clinicians/{id}/calendar-feeds "
                               "issues a feed's URL)")
        with self.store.read() as conn:
            record = records.feed_by_digest(conn, feeds.digest(secret))
        feeds.require_usable(record and feeds.Feed(
            record["feed_id"], clinician_id=record["clinician_id"],
            expires_at=aware(record["expires_at"]), revoked_at=aware(record["revoked_at"])),
            clinician_id, now)
        return self._feed_calendar(record["organisation_id"], record["clinic_ids"],
                                   clinician_id, now)

    def _feed_calendar(self, organisation_id, clinic_ids, clinician_id, now):
        """The .ics of a clinician's appointments at those clinics ("*": all)."""
        with self.store.read() as conn:
            query = select(appointments).where(
                appointments.c.organisation_id == organisation_id,
                appointments.c.clinician_id == clinician_id,
                appointments.c.start >= now - FEED_HISTORY)
            if "*" not in clinic_ids:
                query = query.where(appointments.c.clinic_id.in_(clinic_ids))
            rows = [r._asdict() for r in conn.execute(
                query.order_by(appointments.c.start, appointments.c.appointment_id))]
            clinics = {r["clinic_id"] for r in rows}
            settings = {c: records.clinic_settings(conn, organisation_id, c)
                        for c in clinics}
            names = {}
            for clinic_id in clinics:
                names.update(self._names(conn, settings[clinic_id],
                                         [r["client_id"] for r in rows
                                          if r["clinic_id"] == clinic_id]))
            room_names = {(c, r["room_id"]): r["name"] for c in clinics
                          for r in records.room_rows(conn, organisation_id, c)}
            profile = records.clinician_row(conn, organisation_id, clinician_id)
        return icalendar.clinician_calendar(
            clinician_id, profile["name"] if profile else None, rows, settings, names,
            room_names)


