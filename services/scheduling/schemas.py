"""Request payloads of scheduling's API, validated before any domain code runs."""
from marshmallow import Schema, fields, validate

from . import domain


class BookAppointmentSchema(Schema):
    organisation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    clinic_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    start = fields.AwareDateTime(required=True)
    duration_minutes = fields.Integer(required=True, strict=True,
                                      validate=validate.Range(min=1, max=domain.MAX_MINUTES))
    modality = fields.String(required=True, validate=validate.OneOf(domain.MODALITIES))


class HoldSessionSchema(Schema):
    # Face-to-face minutes actually spent: what billing codes are chosen by.
    minutes = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=0, max=domain.MAX_MINUTES))


class ReassessmentPolicySchema(Schema):
    every_sessions = fields.Integer(required=True, strict=True,
                                    validate=validate.Range(min=1, max=1000))
