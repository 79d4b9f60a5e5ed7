"""Scheduling's domain: no framework, only rules over plain values.

- calendar: clinics (time zone, late-cancel window, video links), clinicians
  (clinics, working hours) and rooms.
- appointments: book, move, check in, hold, cancel, no-show; no double booking.
- series: weekly and every-other-week series on the clinic's wall clock.
- cadence: when a client is due a reassessment, once per cycle.
- feeds: calendar feeds (a secret per feed, stored as its digest; expiry, revocation).

Each stream has its aggregate (shared/aggregate.py), which names the stream:
Appointment, Series, Feed, Cadence (a client's reassessments), Clinic (settings,
rooms, policies) and Clinician (the profile).
"""
from . import appointments, cadence, calendar, feeds, series  # noqa: F401


# Who works the calendar: what most commands and views of scheduling require.
STAFF = ("admin", "clinician", "front_desk")
