"""Request payloads of scheduling's API, validated before any domain code runs.

Fields added after the first release are optional with the defaults the
domain documents, so earlier requests stay valid.
"""
from marshmallow import Schema, fields, validate, validates_schema, ValidationError

from shared.limits import ID_ALPHABET, fits
from shared.paging import PageQuery

from .domain import appointments as booking
from .domain import cadence, feeds
from .domain import calendar as settings
from .domain import series as recurrence
from .read_models.calendar import appointments, clinicians, clinics, rooms, series

MAX_MINUTES = booking.MAX_MINUTES


class _Appointment(Schema):
    organisation_id = fields.String(required=True,
                                    validate=fits(appointments, "organisation_id", min=1))
    clinic_id = fields.String(required=True, validate=fits(appointments, "clinic_id", min=1))
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True, validate=[
        fits(appointments, "clinician_id", min=1), ID_ALPHABET])
    start = fields.AwareDateTime(required=True)
    duration_minutes = fields.Integer(required=True, strict=True,
                                      validate=validate.Range(min=1, max=MAX_MINUTES))
    modality = fields.String(required=True, validate=validate.OneOf(booking.MODALITIES))
    session_type = fields.String(validate=validate.OneOf(booking.SESSION_TYPES))
    room_id = fields.String(allow_none=True, validate=fits(appointments, "room_id", min=1))
    override_working_hours = fields.Boolean(load_default=False)


class BookAppointmentSchema(_Appointment):
    pass


class BookSeriesSchema(_Appointment):
    frequency = fields.String(required=True, validate=validate.OneOf(recurrence.FREQUENCIES))
    count = fields.Integer(strict=True, validate=validate.Range(
        min=1, max=recurrence.MAX_OCCURRENCES))
    until = fields.Date()

    @validates_schema
    def count_or_until(self, data, **kwargs):
        if ("count" in data) == ("until" in data):
            raise ValidationError("give count or until, one of the two", "count")


class EndSeriesSchema(Schema):
    from_ = fields.AwareDateTime(data_key="from")
    cancelled_by = fields.String(validate=validate.OneOf(booking.CANCELLED_BY))
    reason = fields.String(allow_none=True, validate=fits(series, "end_reason"))


class RescheduleSchema(Schema):
    start = fields.AwareDateTime(required=True)
    duration_minutes = fields.Integer(strict=True,
                                      validate=validate.Range(min=1, max=MAX_MINUTES))
    room_id = fields.String(allow_none=True, validate=fits(appointments, "room_id", min=1))
    override_working_hours = fields.Boolean(load_default=False)


class CancelSchema(Schema):
    cancelled_by = fields.String(required=True, validate=validate.OneOf(booking.CANCELLED_BY))
    reason = fields.String(allow_none=True, validate=fits(appointments, "cancel_reason"))


class HoldSessionSchema(Schema):
    # Face-to-face minutes actually spent: what billing codes are chosen by.
    minutes = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=0, max=MAX_MINUTES))
    session_type = fields.String(validate=validate.OneOf(booking.SESSION_TYPES))
    place_of_service = fields.String(validate=validate.OneOf(booking.PLACES_OF_SERVICE))
    audio_only = fields.Boolean()
    client_present = fields.Boolean()  # family sessions only; default true


class ReassessmentPolicySchema(Schema):
    every_sessions = fields.Integer(allow_none=True, strict=True,
                                    validate=validate.Range(min=1, max=1000))
    every_days = fields.Integer(allow_none=True, strict=True,
                                validate=validate.Range(min=1, max=3650))


class ClinicSchema(Schema):
    name = fields.String(required=True, validate=fits(clinics, "name", min=1))
    time_zone = fields.String(load_default=settings.DEFAULT_TIME_ZONE,
                              validate=fits(clinics, "time_zone", min=1))
    late_cancel_window_hours = fields.Integer(
        load_default=settings.DEFAULT_LATE_CANCEL_WINDOW_HOURS, strict=True,
        validate=validate.Range(min=0, max=336))
    video_link_template = fields.String(load_default=None, allow_none=True,
                                        validate=fits(clinics, "video_link_template"))
    calendar_shows_client_names = fields.Boolean(load_default=False)
    # Checked by domain.reminders.schedule (1-336 each, at most 4, each once).
    reminder_hours_before = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=336)),
        load_default=list, validate=validate.Length(max=4))


class RoomSchema(Schema):
    room_id = fields.String(validate=[fits(rooms, "room_id", min=1),
                                      validate.Regexp(r"^[A-Za-z0-9._-]+$")])
    name = fields.String(required=True, validate=fits(rooms, "name", min=1))


class WorkingHoursSchema(Schema):
    weekday = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=6))
    start = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))
    end = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))
    clinic_id = fields.String(allow_none=True, validate=fits(clinicians, "clinic_id", min=1))


class ClinicianProfileSchema(Schema):
    name = fields.String(required=True, validate=fits(clinicians, "name", min=1))
    # A clinician works at a few of the organisation's clinics, a few spans a day each.
    clinic_ids = fields.List(fields.String(validate=fits(clinicians, "clinic_id", min=1)),
                             required=True, validate=validate.Length(min=1, max=100))
    working_hours = fields.List(fields.Nested(WorkingHoursSchema), load_default=list,
                                validate=validate.Length(max=7 * 24))


class CalendarQuery(Schema):
    date = fields.Date(required=True)
    clinic_id = fields.String(validate=fits(appointments, "clinic_id", min=1))
    include_cancelled = fields.Boolean(load_default=False)


class OccupancyQuery(Schema):
    date = fields.Date(required=True)
    days = fields.Integer(load_default=1, validate=validate.Range(min=1, max=31))


class DateRangeQuery(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    clinician_id = fields.String(validate=fits(appointments, "clinician_id", min=1))


class ReassessmentsQuery(PageQuery):
    overdue_after_days = fields.Integer(load_default=cadence.OVERDUE_AFTER_DAYS,
                                        validate=validate.Range(min=0, max=3650))


class FeedQuery(Schema):
    # A feed secret is 43 characters (secrets.token_urlsafe(32)); the bound admits a
    # pasted bearer token, so that mistake is told as such (401), and nothing huger.
    feed_token = fields.String(load_default=None, validate=validate.Length(max=4096))


class IssueFeedSchema(Schema):
    # Absent: PRAXIS_CALENDAR_FEED_DAYS (90 by default).
    expires_in_days = fields.Integer(strict=True, validate=validate.Range(
        min=1, max=feeds.MAX_LIFETIME_DAYS))
