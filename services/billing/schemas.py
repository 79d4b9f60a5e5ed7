"""Request payloads of billing's API, validated before any domain code runs.

Money is an integer of minor units: strict integers refuse "9000", 90.5 and 90.0.
"""
from marshmallow import Schema, fields, validate

from shared.events.billing import (CHARGE_STATUSES, CURRENCY, INVOICE_PER, PAYMENT_METHODS,
                                   SERVICE_CODE)
from shared.limits import fits
from shared.paging import PageQuery

from .domain.codes import PAYER_RULE_KEYS
from .read_models import billing_profiles

INVOICE_STATUSES = ["draft", "issued", "paid", "void"]
MONTH = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="must be a month YYYY-MM")


# Ceilings in minor units: a fee of 10**20 once made every later charge fail (and
# dead-letter); an amount must also fit the BIGINT columns it is summed into.
MAX_FEE = 10 ** 8        # 1,000,000.00 for one session or fee
MAX_AMOUNT = 10 ** 11    # 1,000,000,000.00 for one payment, refund or write-off


def _money(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_FEE), **kwargs)


def _positive_money(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT), **kwargs)


class FeeScheduleSchema(Schema):
    currency = fields.String(required=True, validate=CURRENCY)
    prices = fields.Dict(keys=fields.String(validate=SERVICE_CODE),
                         values=fields.Integer(strict=True,
                                               validate=validate.Range(min=0, max=MAX_FEE)),
                         required=True, validate=validate.Length(min=1, max=500))
    # absent: replaces the schedule for every session priced from now on
    effective_from = fields.Date(load_default=None)


# A CPT modifier is two letters or digits (95, 93, GT); a CMS place of service two digits.
MODIFIER = validate.Regexp(r"^[0-9A-Z]{2}$", error="must be a modifier such as 95")
PLACE_CODE = validate.Regexp(r"^[0-9]{2}$", error="must be a place-of-service code such as 11")
_places = dict(keys=fields.String(validate=validate.Length(min=1, max=20)),
               values=fields.String(validate=PLACE_CODE), validate=validate.Length(max=10))


class PayerRuleSchema(Schema):
    """One payer kind's telehealth modifiers and places of service (codes.DEFAULT_PAYER_RULE)."""
    video_modifier = fields.String(allow_none=True, validate=MODIFIER)
    audio_only_modifier = fields.String(allow_none=True, validate=MODIFIER)
    in_person_place_of_service = fields.Dict(**_places)
    telehealth_place_of_service = fields.Dict(**_places)


class PolicySchema(Schema):
    bill_only_signed_notes = fields.Boolean(load_default=False)
    invoice_per = fields.String(load_default="period", validate=validate.OneOf(INVOICE_PER))
    late_cancel_fee_minor = _money(load_default=None, allow_none=True)
    no_show_fee_minor = _money(load_default=None, allow_none=True)
    payment_terms_days = fields.Integer(strict=True, load_default=30,
                                        validate=validate.Range(min=0, max=365))
    # Unknown payer kinds are named by the domain (fees.set_policy); bounded here.
    payer_rules = fields.Dict(keys=fields.String(validate=validate.Length(max=20)),
                              values=fields.Nested(PayerRuleSchema), load_default=dict,
                              validate=validate.Length(max=len(PAYER_RULE_KEYS)))
    charge_instrument_administration = fields.Boolean(load_default=True)


class ProfileSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # The domain checks the NPI's check digit and the EIN's shape, naming the field.
    npi = fields.String(required=True, validate=fits(billing_profiles, "npi"))
    tax_id = fields.String(load_default=None, allow_none=True,
                           validate=fits(billing_profiles, "tax_id"))
    address = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=500))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class SlidingScaleSchema(Schema):
    percent = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=100))
    starts_on = fields.Date(required=True)
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class AddOnSchema(Schema):
    code = fields.String(required=True, validate=SERVICE_CODE)


class ChargesQuery(PageQuery):
    clinic_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    client_id = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(CHARGE_STATUSES))


class DraftInvoiceSchema(Schema):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    issue = fields.Boolean(load_default=False)
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class VoidSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class PaymentSchema(Schema):
    amount_minor = _positive_money(required=True)
    currency = fields.String(required=True, validate=CURRENCY)
    method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    received_on = fields.Date(load_default=None)
    reference = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=200))
    invoice_id = fields.UUID(load_default=None)
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class RefundSchema(Schema):
    amount_minor = _positive_money(required=True)
    currency = fields.String(required=True, validate=CURRENCY)
    method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    refunded_on = fields.Date(load_default=None)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class WriteOffSchema(Schema):
    amount_minor = _positive_money(load_default=None)  # absent: everything due
    written_off_on = fields.Date(load_default=None)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class InvoicesQuery(PageQuery):
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    client_id = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(INVOICE_STATUSES))


class ReceivablesQuery(PageQuery):
    as_of = fields.Date(load_default=None)


class RevenueQuery(Schema):
    from_month = fields.String(load_default=None, data_key="from", validate=MONTH)
    to_month = fields.String(load_default=None, data_key="to", validate=MONTH)


class SuperbillQuery(Schema):
    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to")
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
