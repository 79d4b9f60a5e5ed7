from marshmallow import Schema, fields, validate

from . import catalogue

SERVICE = "scheduling"
MODALITIES = ["in_person", "video"]


@catalogue.event(SERVICE, "AppointmentBooked", 1,
                 "An appointment was booked for a client with a clinician.")
class AppointmentBookedV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    start = fields.DateTime(required=True)
    duration_minutes = fields.Integer(required=True, validate=validate.Range(min=1))
    modality = fields.String(required=True, validate=validate.OneOf(MODALITIES))


@catalogue.event(SERVICE, "SessionHeld", 1,
                 "A booked appointment took place; the proof of service.")
class SessionHeldV1(Schema):
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    start = fields.DateTime(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=0))
    modality = fields.String(required=True, validate=validate.OneOf(MODALITIES))
    session_number = fields.Integer(required=True, validate=validate.Range(min=1))


@catalogue.event(SERVICE, "ReassessmentDue", 1,
                 "The clinic's cadence says the client is due a reassessment.")
class ReassessmentDueV1(Schema):
    client_id = fields.UUID(required=True)
    sessions_since_assessment = fields.Integer(required=True)
    last_assessment_id = fields.UUID(allow_none=True, required=True)
    reason = fields.String(required=True)
    due_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ReassessmentPolicySet", 1,
                 "A clinic set how often clients are reassessed.")
class ReassessmentPolicySetV1(Schema):
    every_sessions = fields.Integer(required=True, validate=validate.Range(min=1))
