"""Events notes publishes. Psychotherapy notes are private: never published."""
from marshmallow import Schema, fields, validate

from . import catalogue

SERVICE = "notes"
GOAL_STATUSES = ["proposed", "active", "on_hold", "completed", "cancelled"]
NOTE_FORMATS = ["SOAP", "DAP", "BIRP"]


class GoalLevels(Schema):
    """Goal Attainment Scaling: what each level means for this goal."""
    much_less = fields.String(required=True, data_key="-2")
    less = fields.String(required=True, data_key="-1")
    expected = fields.String(required=True, data_key="0")
    more = fields.String(required=True, data_key="+1")
    much_more = fields.String(required=True, data_key="+2")


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
    weight = fields.Integer(strict=True, validate=validate.Range(min=1))
    levels = fields.Nested(GoalLevels, allow_none=True)
    status = fields.String(validate=validate.OneOf(GOAL_STATUSES))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "DiagnosesSet", 1,
                 "The ICD-10 codes on the client's treatment plan (billing puts them on "
                 "superbills).")
class DiagnosesSetV1(Schema):
    client_id = fields.UUID(required=True)
    codes = fields.List(fields.String(validate=validate.Regexp(
        r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")), required=True)
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "NoteSigned", 1,
                 "A session's progress note was signed and locked; pending_supervision "
                 "when a supervisor must still co-sign.")
class NoteSignedV1(Schema):
    note_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(NOTE_FORMATS))
    signed_by = fields.String(required=True)
    signed_at = fields.DateTime(required=True)
    pending_supervision = fields.Boolean(required=True)


@catalogue.event(SERVICE, "NoteCoSigned", 1,
                 "A supervisor co-signed a pre-licensed clinician's progress note.")
class NoteCoSignedV1(Schema):
    note_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    cosigned_by = fields.String(required=True)
    cosigned_at = fields.DateTime(required=True)
