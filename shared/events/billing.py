from marshmallow import Schema, fields, validate

from . import catalogue

SERVICE = "billing"

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code of 3 capital letters")
SERVICE_CODE = validate.Regexp(r"^\+?[0-9A-Z]{4,7}$", error="must be a service code such as 90834")


@catalogue.event(SERVICE, "FeeScheduleSet", 1,
                 "A clinic's prices per service code, in minor units (replaces the previous "
                 "schedule; the clinic is the envelope's clinicid).")
class FeeScheduleSetV1(Schema):
    currency = fields.String(required=True, validate=CURRENCY)
    prices = fields.Dict(keys=fields.String(validate=SERVICE_CODE),
                         values=fields.Integer(strict=True, validate=validate.Range(min=0)),
                         required=True)


@catalogue.event(SERVICE, "ChargeRecorded", 1,
                 "The one charge for a session held (possibly not billable, with the reason).")
class ChargeRecordedV1(Schema):
    charge_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    service_date = fields.Date(required=True)  # the session's date in UTC
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    code = fields.String(allow_none=True, required=True)  # None: no code applies
    billable = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, required=True)  # why not billable, else None
    amount_minor = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    # None when the clinic had no fee schedule, so no currency is known.
    currency = fields.String(allow_none=True, required=True, validate=CURRENCY)
