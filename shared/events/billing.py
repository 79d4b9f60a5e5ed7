from marshmallow import Schema, fields, validate

from . import catalogue

SERVICE = "billing"


@catalogue.event(SERVICE, "FeeScheduleSet", 1,
                 "A clinic's prices per service code, in minor units.")
class FeeScheduleSetV1(Schema):
    currency = fields.String(required=True, validate=validate.Length(equal=3))
    prices = fields.Dict(keys=fields.String(), values=fields.Integer(validate=validate.Range(min=0)),
                         required=True)


@catalogue.event(SERVICE, "ChargeRecorded", 1,
                 "The one charge for a session held (possibly not billable, with the reason).")
class ChargeRecordedV1(Schema):
    charge_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    service_date = fields.Date(required=True)
    minutes = fields.Integer(required=True)
    code = fields.String(allow_none=True, required=True)
    billable = fields.Boolean(required=True)
    reason = fields.String(allow_none=True)
    amount_minor = fields.Integer(required=True)
    currency = fields.String(required=True)
