"""Fee schedules (versioned by effective date), the clinic's billing policy,
sliding scales, and the charges they put on sessions, assessments and missed
appointments. Money is an integer of minor units; percentages round half up
once per line, so lines always add up to the charge.
"""
import re
import uuid
from dataclasses import dataclass, field
from datetime import date

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput

from . import codes

# Fixed forever: charge and event ids derive from it, so a change would let a
# redelivered event charge twice.
NAMESPACE = uuid.UUID("0b6f3d1e-5c1a-4c53-9a53-6b1f2f0c8a41")

CURRENCY = re.compile(r"^[A-Z]{3}$")
SERVICE_CODE = re.compile(r"^\+?[0-9A-Z]{4,7}$")
NO_FEE_PAYERS = ("insurer", "medicaid")


def deterministic_id(*parts):
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


def charge_event_id(appointment_id):
    """The id of the one ChargeRecorded an appointment can ever have."""
    return deterministic_id("ChargeRecorded", appointment_id)


def charge_id_of(appointment_id):
    return deterministic_id("Charge", appointment_id)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _day(value):
    return value if isinstance(value, date) or value is None else date.fromisoformat(value)


# -- money ---------------------------------------------------------------
def percent_of(amount_minor, percent):
    """`percent` % of an integer amount, rounded half up to a whole minor unit."""
    return (amount_minor * percent * 2 + 100) // 200


def discounted(amount_minor, discount_percent):
    """What is left of `amount_minor` after a discount (the discount rounds half up)."""
    return amount_minor - percent_of(amount_minor, discount_percent)


# -- fee schedules ---------------------------------------------------------
@dataclass(frozen=True)
class FeeSchedule:
    """One price list: service code -> integer minor units of `currency`."""
    currency: str
    prices: dict = field(default_factory=dict)
    version: int = 0
    effective_from: date = None

    def price(self, code):
        """The price of `code` (with or without the add-on '+'), or None."""
        for key in (code, "+" + code, codes.normalise(code)):
            if key in self.prices:
                return self.prices[key]
        return None


@dataclass
class FeeScheduleHistory(Aggregate):
    """A clinic's schedules: an undated one replaces all before it; a dated one
    prices sessions from its date on."""
    STREAM = "fee-schedule-{}/{}"  # organisation, clinic
    organisation_id: str
    clinic_id: str
    versions: tuple = ()

    def _on_FeeScheduleSet(self, event, data):
        schedule = FeeSchedule(data["currency"], dict(data["prices"]), event.sequence,
                               _day(data.get("effective_from")))
        if schedule.effective_from is None:
            versions = [schedule]
        else:
            versions = [v for v in self.versions if v.effective_from != schedule.effective_from]
            versions.append(schedule)
        self.versions = tuple(sorted(versions, key=lambda v: (v.effective_from or date.min,
                                                               v.version)))

    def on(self, day):
        """The schedule pricing services on `day`, or None."""
        day = _day(day)
        found = None
        for version in self.versions:
            if version.effective_from is None or version.effective_from <= day:
                found = version
        return found


def check_fee_schedule(currency, prices):
    """InvalidInput naming every bad field, else None."""
    errors = {}
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        errors["currency"] = ["must be an ISO 4217 code of 3 capital letters"]
    if not isinstance(prices, dict) or not prices:
        errors["prices"] = ["must map at least one service code to a price"]
    else:
        for code, amount in prices.items():
            if not isinstance(code, str) or not SERVICE_CODE.match(code):
                errors[f"prices.{code}"] = ["not a service code such as 90834"]
            elif not _is_int(amount) or amount < 0:
                errors[f"prices.{code}"] = ["must be an integer >= 0 of minor units (cents)"]
    if errors:
        raise InvalidInput("invalid fee schedule", errors)


def set_fee_schedule(currency, prices, effective_from=None):
    check_fee_schedule(currency, prices)
    data = {"currency": currency, "prices": {code: prices[code] for code in sorted(prices)}}
    if effective_from is not None:
        data["effective_from"] = _day(effective_from).isoformat()
    return [NewEvent("FeeScheduleSet", data)]


# -- the clinic's billing policy -----------------------------------------------
@dataclass(frozen=True)
class BillingPolicy:
    bill_only_signed_notes: bool = False
    invoice_per: str = "period"
    late_cancel_fee_minor: int = None
    no_show_fee_minor: int = None
    payment_terms_days: int = 30
    payer_rules: dict = field(default_factory=dict)
    # 96127 for each scored instrument (where priced); a clinic may not bill it at all
    charge_instrument_administration: bool = True

    def to_data(self):
        return {"bill_only_signed_notes": self.bill_only_signed_notes,
                "invoice_per": self.invoice_per,
                "late_cancel_fee_minor": self.late_cancel_fee_minor,
                "no_show_fee_minor": self.no_show_fee_minor,
                "payment_terms_days": self.payment_terms_days,
                "payer_rules": self.payer_rules,
                "charge_instrument_administration": self.charge_instrument_administration}


@dataclass
class ClinicPolicy(Aggregate):
    """The clinic's billing policy as last set (the defaults until it is)."""
    STREAM = "billing-policy-{}/{}"  # organisation, clinic
    organisation_id: str
    clinic_id: str
    policy: BillingPolicy = field(default_factory=BillingPolicy)

    def _on_BillingPolicySet(self, event, data):
        self.policy = BillingPolicy(**data)


def set_policy(**command):
    """BillingPolicySet from a full policy (omitted settings take the defaults)."""
    rules = command.get("payer_rules") or {}
    unknown = sorted(set(rules) - set(codes.PAYER_RULE_KEYS))
    if unknown:
        raise InvalidInput("unknown payer kind in payer_rules",
                           {"payer_rules": [f"keys must be among "
                                            f"{', '.join(codes.PAYER_RULE_KEYS)}; not "
                                            f"{', '.join(unknown)}"]})
    policy = BillingPolicy(**{k: v for k, v in command.items() if v is not None or
                              k in ("late_cancel_fee_minor", "no_show_fee_minor")})
    return [NewEvent("BillingPolicySet", policy.to_data())]


# -- sliding scale -------------------------------------------------------------
@dataclass
class SlidingScale(Aggregate):
    STREAM = "sliding-scale-{}/{}/{}"  # organisation, clinic, client
    organisation_id: str
    clinic_id: str
    client_id: str
    steps: tuple = ()  # (starts_on, percent), sorted

    def _on_SlidingScaleSet(self, event, data):
        steps = dict(self.steps)
        steps[_day(data["starts_on"])] = data["percent"]
        self.steps = tuple(sorted(steps.items()))

    def percent_on(self, day):
        day = _day(day)
        percent = 0
        for starts_on, value in self.steps:
            if starts_on <= day:
                percent = value
        return percent


def set_sliding_scale(client_id, percent, starts_on, payer_kind, set_by):
    if payer_kind in NO_FEE_PAYERS:
        raise InvalidInput("a sliding scale is for self-pay clients",
                           {"client_id": [f"the client's payer is {payer_kind}"]})
    if not _is_int(percent) or not 0 <= percent <= 100:
        raise InvalidInput("invalid sliding scale", {"percent": ["an integer from 0 to 100"]})
    return [NewEvent("SlidingScaleSet", {"client_id": client_id, "percent": percent,
                                         "starts_on": _day(starts_on).isoformat(),
                                         "set_by": set_by})]


# -- charges for sessions held ---------------------------------------------------
@dataclass(frozen=True)
class Session:
    appointment_id: str
    client_id: str
    clinician_id: str
    service_date: str
    minutes: int
    session_type: str
    modality: str
    place_of_service: str
    audio_only: bool = False
    episode_id: str = None
    client_present: bool = True  # family sessions: 90847 with the client, 90846 without


@dataclass(frozen=True)
class NoteState:
    signed: bool = False
    pending_supervision: bool = False
    cosigned: bool = False

    @property
    def complete(self):
        return self.signed and (not self.pending_supervision or self.cosigned)

    def hold_reason(self):
        if not self.signed:
            return "the clinic bills only signed notes and this session's note is not signed"
        if not self.complete:
            return "the note awaits a supervisor's co-signature"
        return None


@dataclass(frozen=True)
class Pricing:
    code: str
    billable: bool
    reason: str
    amount_minor: int
    currency: str
    lines: tuple = ()
    full_amount_minor: int = 0


def price_lines(coding, schedule, discount_percent=0, modifiers=()):
    """Coding -> Pricing under `schedule` (None: the clinic has no schedule)."""
    currency = schedule.currency if schedule is not None else None
    if not coding.lines:
        return Pricing(None, False, coding.reason, 0, currency)
    if schedule is None:
        return Pricing(coding.primary, False, "the clinic has no fee schedule", 0, None)
    lines = []
    for code, units in coding.lines:
        price = schedule.price(code)
        if price is None:
            return Pricing(coding.primary, False,
                           f"the clinic's fee schedule has no price for {code}", 0, currency)
        fee = price * units
        lines.append({"code": code, "units": units, "modifiers": list(modifiers),
                      "fee_minor": fee, "amount_minor": discounted(fee, discount_percent)})
    return Pricing(coding.primary, True, None, sum(line["amount_minor"] for line in lines),
                   currency, tuple(lines), sum(line["fee_minor"] for line in lines))


def price_session(minutes, schedule, session_type="individual"):
    """What a session of `minutes` costs under `schedule` (no discount, no modifiers)."""
    return price_lines(codes.session_codes(session_type, minutes), schedule)


def record_charge(session, schedule, policy=None, payer_kind=None, sliding_percent=0,
                  note=None, intake_already_billed=False, crisis_billed_that_day=False):
    """The one ChargeRecorded for a session held; its ids are fixed by the appointment."""
    policy = policy or BillingPolicy()
    coding = codes.session_codes(session.session_type, session.minutes, intake_already_billed,
                                 session.client_present, crisis_billed_that_day)
    place, modifiers = codes.place_and_modifiers(
        session.modality, session.audio_only, session.place_of_service, payer_kind,
        policy.payer_rules)
    percent = sliding_percent if payer_kind not in NO_FEE_PAYERS else 0
    pricing = price_lines(coding, schedule, percent, modifiers)
    status, hold_reason = "ready", None
    if pricing.billable and policy.bill_only_signed_notes:
        hold_reason = (note or NoteState()).hold_reason()
        status = "held" if hold_reason else "ready"
    return [NewEvent("ChargeRecorded", {
        "charge_id": charge_id_of(session.appointment_id),
        "appointment_id": session.appointment_id, "client_id": session.client_id,
        "clinician_id": session.clinician_id, "service_date": session.service_date,
        "minutes": session.minutes, "code": pricing.code, "billable": pricing.billable,
        "reason": pricing.reason, "amount_minor": pricing.amount_minor,
        "currency": pricing.currency, "session_type": session.session_type,
        "modality": session.modality, "place_of_service": place,
        "episode_id": session.episode_id, "lines": list(pricing.lines),
        "full_amount_minor": pricing.full_amount_minor, "sliding_scale_percent": percent,
        "payer_kind": payer_kind, "status": status, "hold_reason": hold_reason,
    }, id=charge_event_id(session.appointment_id))]


@dataclass
class SessionCharge(Aggregate):
    """An appointment's one charge: recorded when the session is held, released when
    its note is complete, and the add-ons put on it."""
    STREAM = "charge-{}"  # appointment
    appointment_id: str
    charge_id: str = None
    client_id: str = None
    code: str = None
    billable: bool = False
    status: str = None
    lines: tuple = ()
    amount_minor: int = 0
    sliding_scale_percent: int = 0

    def _on_ChargeRecorded(self, event, data):
        self.charge_id, self.client_id, self.code = (data["charge_id"], data["client_id"],
                                                     data["code"])
        self.billable, self.amount_minor = data["billable"], data["amount_minor"]
        # as the read model reads them: charges recorded before holds, lines and
        # sliding scales existed are ready, lineless and undiscounted
        self.status = data.get("status", "ready")
        self.lines = tuple(data.get("lines", ()))
        self.sliding_scale_percent = data.get("sliding_scale_percent") or 0

    def _on_ChargeReleased(self, event, data):
        self.status = "ready"

    def _on_ChargeAddOnAdded(self, event, data):
        self.lines += (data["line"],)
        self.amount_minor = data["amount_minor"]

    def release(self, note):
        """ChargeReleased when a held charge's note is now complete, else nothing."""
        if self.status != "held" or not note.complete:
            return []
        reason = "note co-signed" if note.pending_supervision else "note signed"
        return [NewEvent("ChargeReleased", {
            "charge_id": self.charge_id, "appointment_id": self.appointment_id,
            "client_id": self.client_id, "reason": reason},
            id=deterministic_id("ChargeReleased", self.appointment_id))]

    def add_on(self, code, schedule, added_by, invoiced):
        """ChargeAddOnAdded for an add-on code the charge's primary code accepts
        (`invoiced`: whether the charge is on an invoice that is not void)."""
        code = codes.check_add_on(code, self.code)
        if not self.billable:
            raise Conflict("a charge that is not billable takes no add-on",
                           {"charge_id": ["not billable"]})
        if invoiced:
            raise Conflict("the charge is on an invoice already; void the invoice first",
                           {"charge_id": ["invoiced"]})
        if any(line["code"] == code for line in self.lines):
            raise Conflict(f"the charge already has {code}", {"code": ["already added"]})
        price = schedule.price(code) if schedule is not None else None
        if price is None:
            raise Conflict(f"the fee schedule has no price for {code}", {"code": ["no price"]})
        primary = self.lines[0] if self.lines else {"modifiers": []}
        line = {"code": code, "units": 1, "modifiers": list(primary["modifiers"]),
                "fee_minor": price, "amount_minor": discounted(price, self.sliding_scale_percent)}
        return [NewEvent("ChargeAddOnAdded", {
            "charge_id": self.charge_id, "appointment_id": self.appointment_id,
            "client_id": self.client_id, "line": line,
            "amount_minor": self.amount_minor + line["amount_minor"],
            "currency": schedule.currency, "added_by": added_by})]


# -- fees that are not sessions ------------------------------------------------
@dataclass
class Fee(Aggregate):
    """A late-cancellation, no-show or instrument fee: charged once, never changed."""
    STREAM = "fee-{}"  # charge
    charge_id: str


def missed_appointment_fee(kind, appointment_id, client_id, clinician_id, service_date,
                           policy, schedule, payer_kind, consent_given_at, missed_at):
    """FeeCharged for a late cancel or a no-show, or [] when the clinic has no such fee.

    Charged only when the client accepted the cancellation policy beforehand, and
    never to an insurer or a Medicaid client (recorded not billable, with why).
    """
    amount = policy.late_cancel_fee_minor if kind == "late_cancel" else policy.no_show_fee_minor
    if not amount:
        return []
    reason = None
    label = kind.replace("_", "-")
    if payer_kind in NO_FEE_PAYERS:
        reason = f"no {label} fee is charged when the payer is {payer_kind}"
    elif payer_kind is None:
        reason = "billing does not know this client's payer"
    elif consent_given_at is None or consent_given_at > missed_at:
        reason = "the client had not accepted the cancellation policy beforehand"
    elif schedule is None:
        reason = "the clinic has no fee schedule, so no currency is known"
    charge_id = deterministic_id(kind, appointment_id)
    return [NewEvent("FeeCharged", {
        "charge_id": charge_id, "client_id": client_id, "kind": kind,
        "appointment_id": appointment_id, "assessment_id": None,
        "clinician_id": clinician_id, "service_date": service_date, "code": None, "units": 1,
        "billable": reason is None, "reason": reason,
        "amount_minor": amount if reason is None else 0,
        "currency": schedule.currency if schedule is not None else None},
        id=deterministic_id("FeeCharged", charge_id))]


def instrument_fee(assessment_id, client_id, service_date, schedule, sliding_percent=0,
                   policy=None):
    """96127 for one standardized instrument, only where the fee schedule lists it and
    the clinic's policy charges instrument administration."""
    if policy is not None and not policy.charge_instrument_administration:
        return []
    price = schedule.price(codes.INSTRUMENT) if schedule is not None else None
    if price is None:
        return []
    charge_id = deterministic_id("assessment", assessment_id)
    return [NewEvent("FeeCharged", {
        "charge_id": charge_id, "client_id": client_id, "kind": "assessment",
        "appointment_id": None, "assessment_id": assessment_id, "clinician_id": None,
        "service_date": service_date, "code": codes.INSTRUMENT, "units": 1,
        "billable": True, "reason": None, "amount_minor": discounted(price, sliding_percent),
        "currency": schedule.currency}, id=deterministic_id("FeeCharged", charge_id))]
