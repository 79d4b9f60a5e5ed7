"""Scheduling's read side: what the GETs (and the RPC) answer, from the read models.

- clinics: a clinic's settings and rooms, a clinician's profile
- appointments: an appointment, a series, a client's appointments
- calendars: a clinician's day or week, a room's occupancy, attendance figures
- cadence: reassessment policies, who is due, the overdue gauge
- feeds: a clinician's calendar feeds and the .ics a feed's secret opens
- fhir: a client's clinicians, appointments and sessions as FHIR resources
- views: how each record looks in JSON
- records: the read models' rows as Python values (commands read them too)
"""
from .appointments import AppointmentQueries
from .cadence import ReassessmentQueries
from .calendars import CalendarQueries
from .clinics import ClinicQueries
from .feeds import FeedQueries
from .fhir import FhirQueries


class SchedulingQueries(ClinicQueries, AppointmentQueries, CalendarQueries,
                        ReassessmentQueries, FeedQueries, FhirQueries):
    """The queries of SchedulingApplication (which gives them `self.store`)."""
