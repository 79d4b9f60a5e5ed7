"""Scheduling's domain: no framework, only rules over plain values.

- calendar: clinics (time zone, late-cancel window, video links), clinicians
  (clinics, working hours) and rooms.
- appointments: book, move, check in, hold, cancel, no-show; no double booking.
- series: weekly and every-other-week series on the clinic's wall clock.
- cadence: when a client is due a reassessment, once per cycle.
- feeds: calendar feeds (a secret per feed, stored as its digest; expiry, revocation).
"""
from . import appointments, cadence, calendar, feeds, series  # noqa: F401


def clinic_stream(organisation_id, clinic_id):
    """Clinic settings, rooms and reassessment policies (the clinic's and its clients')."""
    return f"clinic-{organisation_id}/{clinic_id}"


def clinician_stream(organisation_id, clinician_id):
    return f"clinician-{organisation_id}/{clinician_id}"
