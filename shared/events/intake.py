from marshmallow import Schema, fields, validate

from . import catalogue

SERVICE = "intake"


class Contact(Schema):
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))


@catalogue.event(SERVICE, "ClientRegistered", 1,
                 "A client was registered at a clinic.")
class ClientRegisteredV1(Schema):
    client_id = fields.UUID(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    date_of_birth = fields.Date(required=True)
    contact = fields.Nested(Contact, required=True)
    registered_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ClientAssessed", 1,
                 "A standardized instrument was administered and scored.")
class ClientAssessedV1(Schema):
    client_id = fields.UUID(required=True)
    assessment_id = fields.UUID(required=True)
    instrument = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["initial", "reassessment"]))
    answers = fields.List(fields.Integer(), required=True)
    total = fields.Integer(required=True)
    severity = fields.String(required=True)
    assessed_at = fields.DateTime(required=True)
