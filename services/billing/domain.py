"""Billing's domain: fee schedules and the one charge per session held.

No framework imports. Money is an integer count of the currency's minor units
(cents), never a float. Time codes are data (PSYCHOTHERAPY_CODES); prices are
per clinic reference data (the fee schedule), never branches in code.
"""
import re
import uuid
from dataclasses import dataclass, field

from shared.envelope import NewEvent
from shared.errors import InvalidInput

# Fixed forever: charge and event ids derive from it, so a change would let a
# redelivered SessionHeld charge twice.
NAMESPACE = uuid.UUID("0b6f3d1e-5c1a-4c53-9a53-6b1f2f0c8a41")

CURRENCY = re.compile(r"^[A-Z]{3}$")
SERVICE_CODE = re.compile(r"^\+?[0-9A-Z]{4,7}$")

# (lowest face-to-face minutes, highest or None, CPT code). One time code per
# session; codes are never added together.
PSYCHOTHERAPY_CODES = (
    (16, 37, "90832"),
    (38, 52, "90834"),
    (53, None, "90837"),
)
MINIMUM_MINUTES = PSYCHOTHERAPY_CODES[0][0]


def fee_schedule_stream(organisation_id, clinic_id):
    return f"fee-schedule-{organisation_id}/{clinic_id}"


def charge_stream(appointment_id):
    return f"charge-{appointment_id}"


def charge_event_id(appointment_id):
    """The id of the one ChargeRecorded an appointment can ever have."""
    return str(uuid.uuid5(NAMESPACE, f"ChargeRecorded:{appointment_id}"))


def charge_id_of(appointment_id):
    return str(uuid.uuid5(NAMESPACE, f"Charge:{appointment_id}"))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def psychotherapy_code(minutes):
    """Face-to-face minutes -> (code, reason); code None when not billable."""
    if not _is_int(minutes) or minutes < 0:
        raise InvalidInput("minutes must be a whole number of at least 0",
                           {"minutes": ["must be an integer >= 0"]})
    for low, high, code in PSYCHOTHERAPY_CODES:
        if minutes >= low and (high is None or minutes <= high):
            return code, None
    return None, (f"{minutes} face-to-face minutes is under the {MINIMUM_MINUTES} "
                  f"a psychotherapy session needs to bill")


@dataclass(frozen=True)
class FeeSchedule:
    """A clinic's prices: service code -> integer minor units of `currency`."""
    currency: str
    prices: dict = field(default_factory=dict)
    version: int = 0

    @classmethod
    def from_events(cls, events):
        """The latest FeeScheduleSet wins; None when the clinic never set one."""
        schedule = None
        for event in events:
            if event.name == "FeeScheduleSet":
                schedule = cls(event.data["currency"], dict(event.data["prices"]),
                               event.sequence)
        return schedule

    def price(self, code):
        return self.prices.get(code)


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


def set_fee_schedule(currency, prices):
    check_fee_schedule(currency, prices)
    return [NewEvent("FeeScheduleSet", {
        "currency": currency, "prices": {code: prices[code] for code in sorted(prices)}})]


@dataclass(frozen=True)
class Pricing:
    code: str
    billable: bool
    reason: str
    amount_minor: int
    currency: str


def price_session(minutes, schedule):
    """What a psychotherapy session of `minutes` costs under `schedule` (or None)."""
    code, reason = psychotherapy_code(minutes)
    currency = schedule.currency if schedule is not None else None
    if code is None:
        return Pricing(None, False, reason, 0, currency)
    if schedule is None:
        return Pricing(code, False, "the clinic has no fee schedule", 0, None)
    amount = schedule.price(code)
    if amount is None:
        return Pricing(code, False, f"the clinic's fee schedule has no price for {code}",
                       0, currency)
    return Pricing(code, True, None, amount, currency)


def record_charge(appointment_id, client_id, clinician_id, service_date, minutes, schedule):
    """The ChargeRecorded for a session held; its id is fixed by the appointment."""
    pricing = price_session(minutes, schedule)
    return [NewEvent("ChargeRecorded", {
        "charge_id": charge_id_of(appointment_id), "appointment_id": appointment_id,
        "client_id": client_id, "clinician_id": clinician_id, "service_date": service_date,
        "minutes": minutes, "code": pricing.code, "billable": pricing.billable,
        "reason": pricing.reason, "amount_minor": pricing.amount_minor,
        "currency": pricing.currency}, id=charge_event_id(appointment_id))]
