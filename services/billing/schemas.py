"""Request payloads of billing's API, validated before any domain code runs."""
from marshmallow import Schema, fields, validate

from shared.events.billing import CURRENCY, SERVICE_CODE


class FeeScheduleSchema(Schema):
    currency = fields.String(required=True, validate=CURRENCY)
    # strict: "9000", 90.5 and 90.0 are refused; money is an integer of minor units.
    prices = fields.Dict(keys=fields.String(validate=SERVICE_CODE),
                         values=fields.Integer(strict=True, validate=validate.Range(min=0)),
                         required=True, validate=validate.Length(min=1))


class ChargesQuery(Schema):
    clinic_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    client_id = fields.UUID(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
