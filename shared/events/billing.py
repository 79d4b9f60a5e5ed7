"""Events billing publishes. Consumers: integrators (accounting, reporting).

Money is an integer count of the currency's minor units (cents), never a float.
Service codes are written without the add-on '+' (90840, 90785).
"""
from marshmallow import Schema, fields, validate

from . import catalogue
from ..vocabulary import PAYMENT_METHODS, CHARGE_STATUSES, FEE_KINDS, INVOICE_PER, PAYER_KINDS

SERVICE = "billing"

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code of 3 capital letters")
SERVICE_CODE = validate.Regexp(r"^\+?[0-9A-Z]{4,7}$", error="must be a service code such as 90834")


def _money(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=0), **kwargs)


@catalogue.event(SERVICE, "FeeScheduleSet", 1,
                 "A clinic's prices per service code, in minor units (the clinic is the "
                 "envelope's clinicid). Without effective_from it replaces every earlier "
                 "version; with it, it prices sessions on and after that date.")
class FeeScheduleSetV1(Schema):
    currency = fields.String(required=True, validate=CURRENCY)
    prices = fields.Dict(keys=fields.String(validate=SERVICE_CODE),
                         values=fields.Integer(strict=True, validate=validate.Range(min=0)),
                         required=True)
    effective_from = fields.Date(allow_none=True)


class ChargeLine(Schema):
    """One billed code of a charge: units, modifiers and the amount the client owes."""
    code = fields.String(required=True)
    units = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    modifiers = fields.List(fields.String(), required=True)
    fee_minor = _money(required=True)      # the schedule's price times units
    amount_minor = _money(required=True)   # after the sliding scale


@catalogue.event(SERVICE, "ChargeRecorded", 1,
                 "The one charge for a session held (possibly not billable, with the reason); "
                 "`held` until the note is signed when the clinic bills only signed notes.")
class ChargeRecordedV1(Schema):
    charge_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    service_date = fields.Date(required=True)  # the session's date in UTC
    minutes = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    code = fields.String(allow_none=True, required=True)  # None: no code applies
    billable = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, required=True)  # why not billable, else None
    amount_minor = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    # None when the clinic had no fee schedule, so no currency is known.
    currency = fields.String(allow_none=True, required=True, validate=CURRENCY)
    session_type = fields.String(allow_none=True)
    modality = fields.String(allow_none=True)
    place_of_service = fields.String(allow_none=True)  # CMS code: 11 office, 10, 02, ...
    episode_id = fields.UUID(allow_none=True)
    lines = fields.List(fields.Nested(ChargeLine))
    full_amount_minor = _money()  # before the sliding scale
    sliding_scale_percent = fields.Integer(strict=True, validate=validate.Range(min=0, max=100))
    payer_kind = fields.String(allow_none=True, validate=validate.OneOf(PAYER_KINDS))
    status = fields.String(validate=validate.OneOf(CHARGE_STATUSES))
    hold_reason = fields.String(allow_none=True)


@catalogue.event(SERVICE, "ChargeReleased", 1,
                 "A held charge became billable: its note is signed (and co-signed where "
                 "required).")
class ChargeReleasedV1(Schema):
    charge_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    reason = fields.String(required=True)


@catalogue.event(SERVICE, "ChargeAddOnAdded", 1,
                 "An add-on code (e.g. 90785 interactive complexity) joined a session's "
                 "charge, after its compatibility with the primary code was checked.")
class ChargeAddOnAddedV1(Schema):
    charge_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    line = fields.Nested(ChargeLine, required=True)
    amount_minor = _money(required=True)  # the charge's new total
    currency = fields.String(required=True, validate=CURRENCY)
    added_by = fields.String(required=True)


@catalogue.event(SERVICE, "FeeCharged", 1,
                 "A charge that is not a session: a late-cancel or no-show fee under the "
                 "clinic's policy, or 96127 for a standardized instrument (not billable, with "
                 "the reason, when the policy may not charge this client).")
class FeeChargedV1(Schema):
    charge_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(FEE_KINDS))
    appointment_id = fields.UUID(allow_none=True)
    assessment_id = fields.UUID(allow_none=True)
    clinician_id = fields.String(allow_none=True)
    service_date = fields.Date(required=True)
    code = fields.String(allow_none=True, required=True)
    units = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    billable = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, required=True)
    amount_minor = _money(required=True)
    currency = fields.String(allow_none=True, required=True, validate=CURRENCY)


class PayerRule(Schema):
    video_modifier = fields.String(allow_none=True)
    audio_only_modifier = fields.String(allow_none=True)
    in_person_place_of_service = fields.Dict(keys=fields.String(), values=fields.String())
    telehealth_place_of_service = fields.Dict(keys=fields.String(), values=fields.String())


@catalogue.event(SERVICE, "BillingPolicySet", 1,
                 "A clinic's billing policy: bill only signed notes, invoice per period or "
                 "per session, late-cancel and no-show fees, payment terms, telehealth "
                 "modifiers and places of service per payer kind, whether 96127 is charged "
                 "per scored instrument (clinic: the envelope's).")
class BillingPolicySetV1(Schema):
    bill_only_signed_notes = fields.Boolean(required=True)
    invoice_per = fields.String(required=True, validate=validate.OneOf(INVOICE_PER))
    late_cancel_fee_minor = _money(allow_none=True, required=True)
    no_show_fee_minor = _money(allow_none=True, required=True)
    payment_terms_days = fields.Integer(strict=True, required=True,
                                        validate=validate.Range(min=0, max=365))
    # "default", "self_pay", "insurer", "medicaid" -> overrides of the built-in rules
    payer_rules = fields.Dict(keys=fields.String(), values=fields.Nested(PayerRule),
                              required=True)
    # absent in policies set before it existed: true (96127 charged)
    charge_instrument_administration = fields.Boolean()


@catalogue.event(SERVICE, "SlidingScaleSet", 1,
                 "A self-pay client's sliding-scale discount (percent of every fee) from a "
                 "start date on.")
class SlidingScaleSetV1(Schema):
    client_id = fields.UUID(required=True)
    percent = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=100))
    starts_on = fields.Date(required=True)
    set_by = fields.String(required=True)


@catalogue.event(SERVICE, "BillingProfileSet", 1,
                 "The provider details superbills carry: the clinic's (clinician_id null) or "
                 "a clinician's name, NPI and tax id.")
class BillingProfileSetV1(Schema):
    clinician_id = fields.String(allow_none=True, required=True)
    name = fields.String(required=True)
    npi = fields.String(required=True)
    tax_id = fields.String(allow_none=True, required=True)
    address = fields.String(allow_none=True, required=True)
    phone = fields.String(allow_none=True)


class InvoiceLine(Schema):
    charge_id = fields.UUID(required=True)
    service_date = fields.Date(required=True)
    code = fields.String(allow_none=True, required=True)
    description = fields.String(required=True)
    amount_minor = _money(required=True)


@catalogue.event(SERVICE, "InvoiceDrafted", 1,
                 "A draft invoice of a client's unbilled charges for a period (or one "
                 "session, by clinic setting).")
class InvoiceDraftedV1(Schema):
    invoice_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    currency = fields.String(required=True, validate=CURRENCY)
    lines = fields.List(fields.Nested(InvoiceLine), required=True)
    total_minor = _money(required=True)


@catalogue.event(SERVICE, "InvoiceIssued", 1, "An invoice was issued to the client.")
class InvoiceIssuedV1(Schema):
    invoice_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    issued_on = fields.Date(required=True)
    due_on = fields.Date(required=True)
    total_minor = _money(required=True)
    currency = fields.String(required=True, validate=CURRENCY)


@catalogue.event(SERVICE, "InvoiceVoided", 1,
                 "An invoice was voided; its charges are unbilled again and what was paid "
                 "on it became credit.")
class InvoiceVoidedV1(Schema):
    invoice_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    reason = fields.String(required=True)
    credit_returned_minor = _money(required=True)
    voided_by = fields.String(required=True)


@catalogue.event(SERVICE, "InvoicePaid", 1,
                 "Nothing is due on an invoice any more (payments, credit and write-offs).")
class InvoicePaidV1(Schema):
    invoice_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    paid_on = fields.Date(required=True)


class Allocation(Schema):
    invoice_id = fields.UUID(required=True)
    amount_minor = _money(required=True)


@catalogue.event(SERVICE, "PaymentReceived", 1,
                 "A payment by card, cash, cheque, transfer or an insurer; allocated to open "
                 "invoices, the rest kept as the client's credit.")
class PaymentReceivedV1(Schema):
    payment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    amount_minor = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    currency = fields.String(required=True, validate=CURRENCY)
    received_on = fields.Date(required=True)
    reference = fields.String(allow_none=True, required=True)
    allocations = fields.List(fields.Nested(Allocation), required=True)
    credit_minor = _money(required=True)  # what was left over, kept as credit
    recorded_by = fields.String(required=True)


@catalogue.event(SERVICE, "CreditApplied", 1,
                 "Some of a client's credit paid an invoice.")
class CreditAppliedV1(Schema):
    invoice_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    amount_minor = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    currency = fields.String(required=True, validate=CURRENCY)


@catalogue.event(SERVICE, "RefundIssued", 1, "Some of a client's credit was paid back.")
class RefundIssuedV1(Schema):
    refund_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    amount_minor = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    currency = fields.String(required=True, validate=CURRENCY)
    method = fields.String(required=True, validate=validate.OneOf(PAYMENT_METHODS))
    refunded_on = fields.Date(required=True)
    reason = fields.String(required=True)
    recorded_by = fields.String(required=True)


@catalogue.event(SERVICE, "WrittenOff", 1,
                 "Part or all of what is due on an invoice will not be collected.")
class WrittenOffV1(Schema):
    write_off_id = fields.UUID(required=True)
    invoice_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    amount_minor = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    currency = fields.String(required=True, validate=CURRENCY)
    written_off_on = fields.Date(required=True)
    reason = fields.String(required=True)
    recorded_by = fields.String(required=True)
