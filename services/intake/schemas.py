"""Request payloads of intake's API, validated before any domain code runs."""
from marshmallow import Schema, fields, validate


class ContactSchema(Schema):
    email = fields.Email(load_default=None)
    phone = fields.String(load_default=None, validate=validate.Length(max=40))


class RegisterClientSchema(Schema):
    organisation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    clinic_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    date_of_birth = fields.Date(required=True)
    contact = fields.Nested(ContactSchema, load_default=dict)


class AssessClientSchema(Schema):
    instrument = fields.String(required=True)
    # Items are checked one by one in the domain, so the error names the item.
    answers = fields.List(fields.Raw(), required=True)
    assessed_at = fields.AwareDateTime(load_default=None)


class ClinicQuery(Schema):
    clinic_id = fields.String(required=True)
    name = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
