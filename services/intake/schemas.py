"""Request payloads of intake's API, validated before any domain code runs.

Every field added since the first release is optional, so older requests
(name, date_of_birth, contact {email, phone}) stay valid.
"""
from marshmallow import Schema, fields, validate

from shared.limits import ID_ALPHABET, MAX_USER_ID, fits
from shared.paging import PageQuery
from shared.vocabulary import CONSENT_KINDS, DISCHARGE_REASONS, ERASURE_LEGAL_BASES, \
    PAYER_KINDS

from .read_models import clients, instrument_definitions

MAX_NAME = 200
MAX_NO_CONTACT_REASON = 500
# Instruments: at most 200 items; an item or total score, a band edge or a cut-off
# lies within +-10,000 (a 200-item scale of 0-50 per item), far inside an integer column.
MAX_ITEMS = 200
SCORE = validate.Range(min=-10_000, max=10_000)
ITEM_NUMBER = validate.Range(min=1, max=MAX_ITEMS)
INSTRUMENT_CODE = [fits(instrument_definitions, "code", min=1), ID_ALPHABET]


class Scoped(Schema):
    """A request about one client or clinic may name where it acts; the service has
    checked these against the stored client or the path before loading
    (named_scope in services/intake/service.py)."""
    organisation_id = fields.String(load_default=None, validate=fits(clients, "organisation_id"))
    clinic_id = fields.String(load_default=None, validate=fits(clients, "clinic_id"))


class ContactSchema(Schema):
    email = fields.Email(load_default=None, validate=fits(clients, "email"))
    phone = fields.String(load_default=None, validate=validate.Length(max=40))
    # Permissions: absent means not asked (consumers treat that as no).
    email_ok = fields.Boolean()
    text_ok = fields.Boolean()
    voicemail_ok = fields.Boolean()


class ContactChangeSchema(Schema):
    """On update: only the contact fields given change (merged into the contact)."""
    email = fields.Email(allow_none=True, validate=fits(clients, "email"))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    email_ok = fields.Boolean()
    text_ok = fields.Boolean()
    voicemail_ok = fields.Boolean()


class GuardianSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NAME))
    relationship = fields.String(required=True, validate=validate.Length(min=1, max=60))
    phone = fields.String(load_default=None, validate=validate.Length(max=40))
    email = fields.Email(load_default=None, validate=fits(clients, "email"))


class AddressSchema(Schema):
    line1 = fields.String(required=True, validate=validate.Length(min=1, max=200))
    line2 = fields.String(load_default=None, validate=validate.Length(max=200))
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    region = fields.String(load_default=None, validate=validate.Length(max=100))
    postal_code = fields.String(load_default=None, validate=validate.Length(max=20))
    country = fields.String(load_default=None, validate=validate.Regexp(
        r"^[A-Z]{2}$", error="an ISO 3166 alpha-2 country code, e.g. US"))


class PayerSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PAYER_KINDS))
    insurer_name = fields.String(load_default=None, validate=validate.Length(max=200))
    member_id = fields.String(load_default=None, validate=validate.Length(max=64))


class ClientDetailsSchema(Schema):
    """The details a client has; on update every field is optional."""
    name = fields.String(validate=validate.Length(min=1, max=MAX_NAME))  # the legal name
    preferred_name = fields.String(allow_none=True, validate=validate.Length(max=MAX_NAME))
    pronouns = fields.String(allow_none=True, validate=validate.Length(max=40))
    date_of_birth = fields.Date()
    contact = fields.Nested(ContactSchema)
    # Why the client has no phone or e-mail (e.g. "no fixed abode; reached through the
    # shelter"): without one of these a registration is refused.
    no_contact_reason = fields.String(allow_none=True, validate=[
        validate.Length(min=1, max=MAX_NO_CONTACT_REASON),
        validate.Regexp(r"\S", error="must say why (not only spaces)")])
    guardian = fields.Nested(GuardianSchema, allow_none=True)
    referral_source = fields.String(allow_none=True, validate=validate.Length(max=200))
    primary_clinician_id = fields.String(allow_none=True,
                                         validate=[validate.Length(max=64), ID_ALPHABET])
    payer = fields.Nested(PayerSchema, allow_none=True)
    address = fields.Nested(AddressSchema, allow_none=True)


class RegisterClientSchema(ClientDetailsSchema):
    organisation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    # a path id of every clinic route: the path ids' alphabet
    clinic_id = fields.String(required=True, validate=[validate.Length(min=1, max=64),
                                                       ID_ALPHABET])
    name = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NAME))
    date_of_birth = fields.Date(required=True)
    contact = fields.Nested(ContactSchema, load_default=lambda: ContactSchema().load({}))


class UpdateClientSchema(ClientDetailsSchema, Scoped):
    contact = fields.Nested(ContactChangeSchema)


class ConsentSchema(Scoped):
    kind = fields.String(required=True, validate=validate.OneOf(CONSENT_KINDS))
    document_version = fields.String(required=True, validate=validate.Length(min=1, max=40))
    given_at = fields.AwareDateTime(load_default=None)


class RevokeConsentSchema(Scoped):
    revoked_at = fields.AwareDateTime(load_default=None)


class DischargeSchema(Scoped):
    reason = fields.String(required=True, validate=validate.OneOf(DISCHARGE_REASONS))
    discharged_at = fields.AwareDateTime(load_default=None)


class ErasureRequestSchema(Scoped):
    legal_basis = fields.String(required=True, validate=validate.OneOf(ERASURE_LEGAL_BASES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class OpenEpisodeSchema(Scoped):
    opened_at = fields.AwareDateTime(load_default=None)


class AssessClientSchema(Scoped):
    instrument = fields.String(required=True, validate=INSTRUMENT_CODE)
    # Items are checked one by one in the domain, so the error names the item.
    answers = fields.List(fields.Raw(allow_none=True), required=True,
                          validate=validate.Length(max=MAX_ITEMS))
    assessed_at = fields.AwareDateTime(load_default=None)


class AcknowledgeRiskFlagSchema(Scoped):
    action_taken = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class BandSchema(Schema):
    low = fields.Integer(required=True, strict=True, validate=SCORE)
    high = fields.Integer(required=True, strict=True, validate=SCORE)
    label = fields.String(required=True, validate=validate.Length(min=1, max=60))


class RiskItemSchema(Schema):
    item = fields.Integer(required=True, strict=True, validate=ITEM_NUMBER)
    above = fields.Integer(required=True, strict=True, validate=SCORE)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class InstrumentDefinitionSchema(Schema):
    """An organisation's own instrument (or a new version of one), as data."""
    # A code is a path id too (/instruments/<code>): the path ids' alphabet.
    code = fields.String(required=True, validate=INSTRUMENT_CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    items = fields.List(fields.String(validate=validate.Length(min=1, max=1000)),
                        required=True, validate=validate.Length(min=1, max=MAX_ITEMS))
    lowest = fields.Integer(required=True, strict=True, validate=SCORE)
    highest = fields.Integer(required=True, strict=True, validate=SCORE)
    reversed_items = fields.List(fields.Integer(strict=True, validate=ITEM_NUMBER),
                                 load_default=list, validate=validate.Length(max=MAX_ITEMS))
    higher_is_worse = fields.Boolean(load_default=True)
    bands = fields.List(fields.Nested(BandSchema), required=True,
                        validate=validate.Length(min=1, max=50))
    cut_off = fields.Integer(required=True, strict=True, validate=SCORE)
    # The domain checks the finer rules (sd above 0, r below 1) and names the field.
    sd = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, max=10_000))
    reliability = fields.Float(required=True, allow_nan=False,
                               validate=validate.Range(min=0, max=1))
    reliable_change_threshold = fields.Integer(load_default=None, strict=True,
                                               validate=validate.Range(min=1, max=10_000))
    response_drop_percent = fields.Integer(load_default=None, strict=True,
                                           validate=validate.Range(min=1, max=100))
    remission_below = fields.Integer(load_default=None, strict=True, validate=SCORE)
    risk_items = fields.List(fields.Nested(RiskItemSchema), load_default=list,
                             validate=validate.Length(max=MAX_ITEMS))


class NotOnTrackRuleSchema(Scoped):
    reassessments_without_improvement = fields.Integer(
        required=True, allow_none=True, strict=True, validate=validate.Range(min=1, max=100))
    sessions_without_improvement = fields.Integer(
        required=True, allow_none=True, strict=True, validate=validate.Range(min=1, max=1000))
    on_reliable_deterioration = fields.Boolean(required=True)


class AllianceSettingsSchema(Scoped):
    instrument = fields.String(required=True, validate=INSTRUMENT_CODE)  # SRS or WAI-SR
    every_sessions = fields.Integer(required=True, strict=True,
                                    validate=validate.Range(min=1, max=100))
    drop_points = fields.Integer(required=True, allow_none=True, strict=True,
                                 validate=validate.Range(min=1, max=100))
    # The dropout-risk rule: this many missed sessions with an alliance concern within
    # the window (domain/dropout.py); null: off.
    dropout_misses = fields.Integer(load_default=2, allow_none=True, strict=True,
                                    validate=validate.Range(min=1, max=20))
    dropout_window_days = fields.Integer(load_default=60, strict=True,
                                         validate=validate.Range(min=1, max=365))


class RateAllianceSchema(Scoped):
    # Items are checked one by one in the domain, so the error names the item.
    item_scores = fields.List(fields.Raw(allow_none=True), required=True,
                              validate=validate.Length(max=MAX_ITEMS))


class ClinicQuery(Schema):
    clinic_id = fields.String(required=True, validate=fits(clients, "clinic_id"))
    name = fields.String(load_default=None, validate=fits(clients, "name"))
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "discharged"]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10 ** 6))


class ClinicListQuery(Scoped, PageQuery):
    """A page of a clinic's list (pending reassessments, break-glass grants)."""


class RiskFlagQuery(Scoped, PageQuery):
    status = fields.String(load_default="open",
                           validate=validate.OneOf(["open", "acknowledged", "all"]))


class DateRangeQuery(Scoped):
    """`from` and `to` are dates, both inclusive (UTC days)."""
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    instrument = fields.String(load_default=None, validate=INSTRUMENT_CODE)


class AlertsQuery(DateRangeQuery, PageQuery):
    pass


class TrajectoryQuery(Scoped):
    episode_id = fields.UUID(load_default=None)


class ChartQuery(TrajectoryQuery):
    format = fields.String(load_default="svg", validate=validate.OneOf(["svg", "png"]))
    # Draw the client's alliance ratings over the outcome (a second axis).
    overlay = fields.String(load_default=None, validate=validate.OneOf(["alliance"]))


class InstrumentQuery(Schema):
    version = fields.Integer(load_default=None, validate=validate.Range(min=1, max=10 ** 6))


class CareTeamMemberSchema(Schema):
    clinician_id = fields.String(required=True, validate=[
        validate.Length(min=1, max=MAX_USER_ID), ID_ALPHABET])


class BreakGlassSchema(Schema):
    # Bounded: a reason is for the privacy officer to read, not a note.
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
