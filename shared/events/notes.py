from marshmallow import Schema, fields, validate

from . import catalogue

SERVICE = "notes"


@catalogue.event(SERVICE, "GoalSet", 1,
                 "A treatment goal was set for a client (stream treatment-plan-<client_id>).")
class GoalSetV1(Schema):
    goal_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    target_date = fields.Date(required=True)
    # A target score is measured with an instrument (e.g. "PHQ-9"): never one without it.
    instrument = fields.String(allow_none=True, required=True,
                               validate=validate.Length(min=1, max=40))
    target_score = fields.Integer(allow_none=True, required=True, strict=True,
                                  validate=validate.Range(min=0))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)
