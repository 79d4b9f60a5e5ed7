"""Scheduling's read models: tables derived only from events (see `make rebuild`),
and the projections that write them; queries/records.py reads them.

- clients: who may be booked (intake's ClientRegistered), their names for
  calendars that may show them, their episodes of care.
- calendar: clinics, rooms, clinicians, appointments and series.
- cadence: assessments, reassessment policies and the cycles already due.
- feeds: calendar feeds (the digest of each secret, expiry, revocation).
"""
from .base import aware, metadata, projection  # noqa: F401
from . import cadence, calendar, clients, feeds  # noqa: F401,E402
