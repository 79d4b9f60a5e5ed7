import uuid

import pytest

from shared.envelope import Event
from shared.errors import InvalidInput
from shared.events import catalogue
from services.billing import domain

def schema_of(name):
    (spec,) = [s for s in catalogue.specs() if (s.service, s.name, s.version) == ("billing", name, 1)]
    return spec.schema


SCHEDULE = domain.FeeSchedule("USD", {"90832": 9000, "90834": 12000, "90837": 16000})


@pytest.mark.parametrize("minutes, code", [
    (0, None), (1, None), (15, None),
    (16, "90832"), (37, "90832"),
    (38, "90834"), (52, "90834"),
    (53, "90837"), (90, "90837"), (240, "90837"),
])
def test_code_at_every_minute_boundary(minutes, code):
    found, reason = domain.psychotherapy_code(minutes)
    assert found == code
    assert (reason is None) == (code is not None)


def test_under_sixteen_minutes_is_not_billable_with_the_reason():
    pricing = domain.price_session(15, SCHEDULE)
    assert pricing.code is None and pricing.billable is False
    assert pricing.amount_minor == 0 and "15" in pricing.reason and "16" in pricing.reason
    assert pricing.currency == "USD"


@pytest.mark.parametrize("bad", [-1, 30.0, "30", None, True])
def test_minutes_must_be_a_non_negative_integer(bad):
    with pytest.raises(InvalidInput) as raised:
        domain.psychotherapy_code(bad)
    assert "minutes" in raised.value.fields


@pytest.mark.parametrize("minutes, code, amount", [
    (16, "90832", 9000), (45, "90834", 12000), (53, "90837", 16000)])
def test_price_comes_from_the_schedule_as_an_int(minutes, code, amount):
    pricing = domain.price_session(minutes, SCHEDULE)
    assert (pricing.code, pricing.billable, pricing.reason) == (code, True, None)
    assert pricing.amount_minor == amount and type(pricing.amount_minor) is int
    assert pricing.currency == "USD"


def test_missing_price_is_not_billable_with_amount_zero():
    schedule = domain.FeeSchedule("EUR", {"90832": 8000})
    pricing = domain.price_session(60, schedule)
    assert pricing.code == "90837" and pricing.billable is False
    assert pricing.amount_minor == 0 and pricing.currency == "EUR"
    assert "90837" in pricing.reason


def test_no_schedule_is_not_billable_and_has_no_currency():
    pricing = domain.price_session(50, None)
    assert pricing.code == "90834" and pricing.billable is False
    assert pricing.amount_minor == 0 and pricing.currency is None
    assert "no fee schedule" in pricing.reason


def test_fee_schedule_is_rebuilt_from_the_latest_event():
    def event(sequence, data):
        return Event(id=str(uuid.uuid4()), source="/praxis/billing",
                     type="praxis.billing.FeeScheduleSet.v1", subject="s",
                     time="2026-01-01T00:00:00Z", data=data, sequence=sequence,
                     organisationid="org-1", clinicid="clinic-1", correlationid="c")
    assert domain.FeeSchedule.from_events([]) is None
    schedule = domain.FeeSchedule.from_events([
        event(1, {"currency": "USD", "prices": {"90832": 1}}),
        event(2, {"currency": "GBP", "prices": {"90834": 7500}})])
    assert schedule == domain.FeeSchedule("GBP", {"90834": 7500}, 2)
    assert schedule.price("90834") == 7500 and schedule.price("90832") is None


@pytest.mark.parametrize("currency, prices, field", [
    ("US", {"90832": 9000}, "currency"),
    ("usd", {"90832": 9000}, "currency"),
    (None, {"90832": 9000}, "currency"),
    ("USD", {"90832": -1}, "prices.90832"),
    ("USD", {"90832": 90.5}, "prices.90832"),
    ("USD", {"90832": 9000.0}, "prices.90832"),
    ("USD", {"90832": "9000"}, "prices.90832"),
    ("USD", {"90832": True}, "prices.90832"),
    ("USD", {"bad code!": 1}, "prices.bad code!"),
    ("USD", {}, "prices"),
])
def test_fee_schedule_refuses_bad_money_naming_the_field(currency, prices, field):
    with pytest.raises(InvalidInput) as raised:
        domain.set_fee_schedule(currency, prices)
    assert field in raised.value.fields


def test_set_fee_schedule_event_fits_its_schema():
    (new,) = domain.set_fee_schedule("USD", {"90837": 16000, "90832": 9000})
    assert new.name == "FeeScheduleSet"
    assert list(new.data["prices"]) == ["90832", "90837"]
    assert schema_of("FeeScheduleSet").validate(new.data) == {}


def test_charge_has_deterministic_ids_and_fits_its_schema():
    appointment_id = str(uuid.uuid4())
    args = (appointment_id, str(uuid.uuid4()), "clin-1", "2026-03-02", 45, SCHEDULE)
    (first,) = domain.record_charge(*args)
    (again,) = domain.record_charge(*args)
    assert first.id == again.id == domain.charge_event_id(appointment_id)
    assert first.id == str(uuid.uuid5(domain.NAMESPACE, f"ChargeRecorded:{appointment_id}"))
    assert first.data["charge_id"] == again.data["charge_id"]
    assert domain.charge_event_id(str(uuid.uuid4())) != first.id
    assert first.data["code"] == "90834" and first.data["amount_minor"] == 12000
    assert first.data["billable"] is True and first.data["currency"] == "USD"
    schema = schema_of("ChargeRecorded")
    assert schema.validate(first.data) == {}
    (unpriced,) = domain.record_charge(str(uuid.uuid4()), str(uuid.uuid4()), "c", "2026-03-02",
                                       10, None)
    assert schema.validate(unpriced.data) == {}
    assert unpriced.data["billable"] is False and unpriced.data["currency"] is None


def test_streams():
    assert domain.fee_schedule_stream("org-1", "clinic-1") == "fee-schedule-org-1/clinic-1"
    assert domain.charge_stream("a") == "charge-a"
