"""Request payloads of notes' API, validated before any domain code runs."""
from marshmallow import Schema, fields, validate

from .domain import DESCRIPTION_MAX, INSTRUMENT_MAX


class SetGoalSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    target_date = fields.Date(required=True)
    instrument = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(min=1, max=INSTRUMENT_MAX))
    # "Needs an instrument" is the domain's rule (domain.set_goal), not a type check.
    target_score = fields.Integer(load_default=None, allow_none=True, strict=True,
                                  validate=validate.Range(min=0))
