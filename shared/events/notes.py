from marshmallow import Schema, fields, validate

from . import catalogue

SERVICE = "notes"


@catalogue.event(SERVICE, "GoalSet", 1,
                 "A treatment goal was set for a client.")
class GoalSetV1(Schema):
    goal_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    target_date = fields.Date(required=True)
    instrument = fields.String(allow_none=True)
    target_score = fields.Integer(allow_none=True)
    set_by = fields.String(required=True)
