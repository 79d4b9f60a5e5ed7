"""Events scheduling publishes. Consumers: intake, notes, billing, integrators."""
from marshmallow import Schema, fields, validate

from . import catalogue
from ..vocabulary import MODALITIES, SESSION_TYPES, PLACES_OF_SERVICE, CANCELLED_BY

SERVICE = "scheduling"


class WorkingHours(Schema):
    weekday = fields.Integer(required=True, validate=validate.Range(min=0, max=6))  # 0 Monday
    start = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))
    end = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))
    clinic_id = fields.String(allow_none=True)  # absent: at every clinic of the clinician


@catalogue.event(SERVICE, "ClinicConfigured", 1,
                 "A clinic's calendar settings (time zone, late-cancel window, video link "
                 "template); the clinic is the envelope's clinicid.")
class ClinicConfiguredV1(Schema):
    name = fields.String(required=True)
    time_zone = fields.String(required=True)  # IANA, e.g. Europe/London
    late_cancel_window_hours = fields.Integer(required=True, validate=validate.Range(min=0))
    video_link_template = fields.String(allow_none=True, required=True)
    calendar_shows_client_names = fields.Boolean(required=True)
    # Hours before an appointment its reminders go out, e.g. [48, 2]; absent or []:
    # none (added within v1: optional).
    reminder_hours_before = fields.List(fields.Integer(validate=validate.Range(min=1, max=336)),
                                        validate=validate.Length(max=4))


@catalogue.event(SERVICE, "ClinicianProfileSet", 1,
                 "A clinician's name, clinics and working hours.")
class ClinicianProfileSetV1(Schema):
    clinician_id = fields.String(required=True)
    name = fields.String(required=True)
    clinic_ids = fields.List(fields.String(), required=True)
    working_hours = fields.List(fields.Nested(WorkingHours), required=True)


@catalogue.event(SERVICE, "RoomAdded", 1, "A room at a clinic.")
class RoomAddedV1(Schema):
    room_id = fields.String(required=True)
    name = fields.String(required=True)


@catalogue.event(SERVICE, "AppointmentBooked", 1,
                 "An appointment was booked for a client with a clinician.")
class AppointmentBookedV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    start = fields.DateTime(required=True)
    duration_minutes = fields.Integer(required=True, validate=validate.Range(min=1))
    modality = fields.String(required=True, validate=validate.OneOf(MODALITIES))
    session_type = fields.String(required=True, validate=validate.OneOf(SESSION_TYPES))
    room_id = fields.String(allow_none=True)
    video_link = fields.String(allow_none=True)
    series_id = fields.UUID(allow_none=True)
    outside_working_hours = fields.Boolean()  # booked outside them by explicit override


@catalogue.event(SERVICE, "AppointmentRescheduled", 1, "An appointment moved.")
class AppointmentRescheduledV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    previous_start = fields.DateTime(required=True)
    start = fields.DateTime(required=True)
    duration_minutes = fields.Integer(required=True, validate=validate.Range(min=1))
    room_id = fields.String(allow_none=True)
    outside_working_hours = fields.Boolean()  # moved outside them by explicit override


@catalogue.event(SERVICE, "AppointmentCancelled", 1,
                 "An appointment was cancelled, with the notice given; `late` when the "
                 "client cancelled inside the clinic's window (24 h by default).",
                 sensitive=('reason',))
class AppointmentCancelledV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    start = fields.DateTime(required=True)
    cancelled_by = fields.String(required=True, validate=validate.OneOf(CANCELLED_BY))
    notice_minutes = fields.Integer(required=True)
    late = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, required=True)
    cancelled_at = fields.DateTime(required=True)
    # The client's details revision scheduling knew (intake's details_revision): billing
    # prices only once it has every change up to it (added within v1: optional).
    client_details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "AppointmentNoShow", 1, "The client did not come.")
class AppointmentNoShowV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    start = fields.DateTime(required=True)
    recorded_at = fields.DateTime(required=True)
    # The client's details revision scheduling knew (intake's details_revision): billing
    # prices only once it has every change up to it (added within v1: optional).
    client_details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "ClientCheckedIn", 1, "The client arrived for an appointment.")
class ClientCheckedInV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    checked_in_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "SessionHeld", 1,
                 "A booked appointment took place: the proof of service billing and notes "
                 "hang on.")
class SessionHeldV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    start = fields.DateTime(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=0))  # face to face
    modality = fields.String(required=True, validate=validate.OneOf(MODALITIES))
    session_type = fields.String(required=True, validate=validate.OneOf(SESSION_TYPES))
    place_of_service = fields.String(required=True, validate=validate.OneOf(PLACES_OF_SERVICE))
    audio_only = fields.Boolean(required=True)
    episode_id = fields.UUID(allow_none=True)
    session_number = fields.Integer(required=True, validate=validate.Range(min=1))  # in episode
    # Family sessions: whether the client took part (90847) or not (90846).
    client_present = fields.Boolean(allow_none=True)
    # The client's details revision scheduling knew (intake's details_revision): billing
    # prices only once it has every change up to it (added within v1: optional).
    client_details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "ReassessmentDue", 1,
                 "The cadence says the client is due a reassessment (once per cycle).")
class ReassessmentDueV1(Schema):
    client_id = fields.UUID(required=True)
    sessions_since_assessment = fields.Integer(required=True)
    last_assessment_id = fields.UUID(allow_none=True, required=True)
    reason = fields.String(required=True)
    due_at = fields.DateTime(required=True)
    due_by = fields.String(validate=validate.OneOf(["sessions", "days"]))  # which limit


@catalogue.event(SERVICE, "ReassessmentPolicySet", 1,
                 "How often clients are reassessed: per clinic, or for one client "
                 "(client_id set); due at whichever limit comes first.")
class ReassessmentPolicySetV1(Schema):
    client_id = fields.UUID(allow_none=True)
    every_sessions = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    every_days = fields.Integer(allow_none=True, validate=validate.Range(min=1))


@catalogue.event(SERVICE, "AppointmentSeriesBooked", 1,
                 "A recurring series (weekly or every other week, for a count or until a "
                 "date, on the clinic's wall clock); each occurrence is also an "
                 "AppointmentBooked carrying the series_id.")
class AppointmentSeriesBookedV1(Schema):
    series_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    frequency = fields.String(required=True,
                              validate=validate.OneOf(["weekly", "every_other_week"]))
    count = fields.Integer(allow_none=True, required=True, validate=validate.Range(min=1))
    until = fields.Date(allow_none=True, required=True)
    time_zone = fields.String(required=True)
    duration_minutes = fields.Integer(required=True, validate=validate.Range(min=1))
    modality = fields.String(required=True, validate=validate.OneOf(MODALITIES))
    session_type = fields.String(required=True, validate=validate.OneOf(SESSION_TYPES))
    room_id = fields.String(allow_none=True, required=True)
    appointment_ids = fields.List(fields.UUID(), required=True)
    starts = fields.List(fields.DateTime(), required=True)


@catalogue.event(SERVICE, "AppointmentSeriesEnded", 1,
                 "A series ends: its occurrences from effective_from on are cancelled "
                 "(each an AppointmentCancelled).")
class AppointmentSeriesEndedV1(Schema):
    series_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    effective_from = fields.DateTime(required=True)
    reason = fields.String(allow_none=True, required=True)
    ended_at = fields.DateTime(required=True)


# -- calendar feeds: kept inside scheduling, never published -----------------------
@catalogue.event(SERVICE, "CalendarFeedIssued", 1,
                 "A clinician's calendar feed was issued (stream calendar-feed-<feed_id>); "
                 "only the SHA-256 of its secret is kept.", private=True)
class CalendarFeedIssuedV1(Schema):
    feed_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    token_sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    clinic_ids = fields.List(fields.String(), required=True)  # what the feed shows ("*")
    issued_by = fields.String(required=True)
    issued_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "CalendarFeedRevoked", 1,
                 "A calendar feed was revoked: its URL opens nothing any more.", private=True)
class CalendarFeedRevokedV1(Schema):
    feed_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    revoked_by = fields.String(required=True)
    revoked_at = fields.DateTime(required=True)


# -- appointment reminders ---------------------------------------------------------
class _Reminder(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    start = fields.DateTime(required=True)  # the start the reminder was decided for
    hours_before = fields.Integer(required=True, validate=validate.Range(min=1))  # the slot
    channel = fields.String(required=True, validate=validate.OneOf(("email",)))


@catalogue.event(SERVICE, "ReminderClaimed", 1,
                 "A slot's reminder of an appointment is being sent (stream "
                 "reminder-<appointment_id>/<start>/<hours>h): recorded before the e-mail "
                 "goes, so no replica or restart sends it again.", private=True)
class ReminderClaimedV1(_Reminder):
    claimed_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ReminderSent", 1,
                 "The mail relay accepted a slot's reminder of an appointment (no address "
                 "and no text are kept).")
class ReminderSentV1(_Reminder):
    sent_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ReminderFailed", 1,
                 "A slot's reminder was not delivered: no_email (no address on file), "
                 "refused or unreachable (the relay), interrupted (the sending process "
                 "died mid-send; it is not sent again).")
class ReminderFailedV1(_Reminder):
    reason = fields.String(required=True, validate=validate.OneOf(
        ("no_email", "refused", "unreachable", "interrupted")))
    failed_at = fields.DateTime(required=True)
