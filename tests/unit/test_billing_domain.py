"""Billing's domain rules: codes, add-ons, modifiers, fee schedules, policies, money."""
import random
import uuid
from datetime import date, datetime, timezone

import pytest

from services.billing import domain
from services.billing.domain import codes, fees
from services.billing.domain.superbill import npi_is_valid, set_profile
from shared.envelope import Event
from shared.errors import Conflict, InvalidInput
from shared.events import catalogue


def schema_of(name):
    (spec,) = [s for s in catalogue.specs() if (s.service, s.name) == ("billing", name)]
    return spec.schema


SCHEDULE = domain.FeeSchedule("USD", {
    "90791": 20000, "90832": 9000, "90834": 12000, "90837": 16000, "90847": 13000,
    "90853": 5000, "90839": 21000, "+90840": 10000, "+90785": 1500, "96127": 500})


def session(minutes=45, session_type="individual", modality="in_person", place="office",
            audio_only=False, appointment_id=None, episode_id=None):
    return domain.Session(appointment_id or str(uuid.uuid4()), str(uuid.uuid4()), "clin-1",
                          "2026-03-02", minutes, session_type, modality, place, audio_only,
                          episode_id)


def event(name, data, sequence=1):
    return Event(id=str(uuid.uuid4()), source="/praxis/billing",
                 type=catalogue.latest_type("billing", name), subject="s",
                 time="2026-01-01T00:00:00Z", data=data, sequence=sequence,
                 organisationid="org-1", clinicid="clinic-1", correlationid="c")


def saved(aggregate, new_events):
    """What the repository does on save: the aggregate applies what was decided."""
    for new in new_events:
        aggregate.apply(event(new.name, new.data, aggregate.version + 1))
    return new_events


# -- codes at every minute boundary ----------------------------------------------------
@pytest.mark.parametrize("minutes, code", [
    (0, None), (15, None), (16, "90832"), (37, "90832"), (38, "90834"), (52, "90834"),
    (53, "90837"), (240, "90837")])
def test_individual_code_at_every_minute_boundary(minutes, code):
    coding = codes.session_codes("individual", minutes)
    assert coding.primary == code
    assert (coding.reason is None) == (code is not None)
    if code is None:
        assert str(minutes) in coding.reason and "16" in coding.reason


@pytest.mark.parametrize("minutes, lines", [
    (25, ()), (26, (("90847", 1),)), (90, (("90847", 1),))])
def test_family_code_from_26_minutes(minutes, lines):
    coding = codes.session_codes("family", minutes)
    assert coding.lines == lines
    if not lines:
        assert "26" in coding.reason


@pytest.mark.parametrize("minutes, lines", [
    (15, ()),
    (29, (("90832", 1),)),          # under 30 a crisis bills as psychotherapy
    (30, (("90839", 1),)),
    (74, (("90839", 1),)),
    (75, (("90839", 1), ("90840", 1))),
    (104, (("90839", 1), ("90840", 1))),
    (105, (("90839", 1), ("90840", 2))),
    (134, (("90839", 1), ("90840", 2))),
    (135, (("90839", 1), ("90840", 3))),
])
def test_crisis_first_hour_and_add_on_units(minutes, lines):
    assert codes.session_codes("crisis", minutes).lines == lines


def test_intake_group_and_once_per_episode():
    assert codes.session_codes("intake", 60).lines == (("90791", 1),)
    again = codes.session_codes("intake", 60, intake_already_billed=True)
    assert again.lines == () and "once" in again.reason
    assert codes.session_codes("group", 90).lines == (("90853", 1),)
    assert codes.session_codes("group", 0).lines == ()


@pytest.mark.parametrize("bad", [-1, 30.0, "30", None, True])
def test_minutes_must_be_a_non_negative_integer(bad):
    with pytest.raises(InvalidInput) as raised:
        codes.session_codes("individual", bad)
    assert "minutes" in raised.value.fields


def test_unknown_session_type_names_the_field():
    with pytest.raises(InvalidInput) as raised:
        codes.session_codes("couples", 50)
    assert "session_type" in raised.value.fields


# -- add-on rules ---------------------------------------------------------------------------
@pytest.mark.parametrize("primary", ["90791", "90832", "90834", "90837", "90853"])
def test_interactive_complexity_goes_with_its_primaries(primary):
    assert codes.check_add_on("+90785", primary) == "90785"


@pytest.mark.parametrize("primary", ["90839", "90846", "90847", None])
def test_interactive_complexity_never_with_crisis_or_family(primary):
    with pytest.raises(Conflict):
        codes.check_add_on("90785", primary)


def test_crisis_add_on_only_with_crisis_and_unknown_add_on_refused():
    assert codes.check_add_on("+90840", "90839") == "90840"
    with pytest.raises(Conflict):
        codes.check_add_on("90840", "90834")
    with pytest.raises(InvalidInput):
        codes.check_add_on("90834", "90837")


def charged(held_session, *args, **kwargs):
    """The session's charge as its stream says it is once recorded."""
    charge = domain.SessionCharge.new(held_session.appointment_id)
    saved(charge, domain.record_charge(held_session, *args, **kwargs))
    return charge


def a_charge(minutes=45, session_type="individual", percent=0):
    return charged(session(minutes, session_type), SCHEDULE, sliding_percent=percent,
                   payer_kind="self_pay")


def test_add_on_event_prices_the_line_and_refuses_bad_cases():
    charge = a_charge(45)
    (added,) = saved(charge, charge.add_on("+90785", SCHEDULE, "user-1", invoiced=False))
    assert added.data["line"]["code"] == "90785" and added.data["amount_minor"] == 13500
    assert schema_of("ChargeAddOnAdded").validate(added.data) == {}
    assert (charge.amount_minor, len(charge.lines)) == (13500, 2)
    with pytest.raises(Conflict):  # the charge has it now
        charge.add_on("90785", SCHEDULE, "u", invoiced=False)
    (discounted,) = a_charge(45, percent=50).add_on("90785", SCHEDULE, "u", invoiced=False)
    assert discounted.data["line"]["amount_minor"] == 750
    assert discounted.data["amount_minor"] == 6000 + 750
    with pytest.raises(Conflict):
        a_charge(60, "crisis").add_on("90785", SCHEDULE, "u", invoiced=False)
    with pytest.raises(Conflict):
        a_charge(45).add_on("90785", SCHEDULE, "u", invoiced=True)
    with pytest.raises(Conflict):
        a_charge(45).add_on("90785", domain.FeeSchedule("USD", {"90834": 1}), "u",
                            invoiced=False)
    with pytest.raises(Conflict):
        a_charge(10).add_on("90785", SCHEDULE, "u", invoiced=False)


# -- place of service and telehealth modifiers -----------------------------------------------
@pytest.mark.parametrize("modality, audio_only, place, pos, modifiers", [
    ("in_person", False, "office", "11", []),
    ("video", False, "client_home", "10", ["95"]),
    ("video", False, "elsewhere", "02", ["95"]),
    ("video", True, "client_home", "10", ["93"]),
    ("phone", False, "client_home", "10", ["93"]),
])
def test_place_of_service_and_modifier_from_the_session(modality, audio_only, place, pos,
                                                        modifiers):
    (new,) = domain.record_charge(session(50, modality=modality, place=place,
                                          audio_only=audio_only), SCHEDULE)
    assert new.data["place_of_service"] == pos
    assert new.data["lines"][0]["modifiers"] == modifiers


def test_payer_rules_are_configuration():
    rules = {"medicaid": {"video_modifier": "GT",
                          "telehealth_place_of_service": {"client_home": "02"}},
             "default": {"audio_only_modifier": None}}
    policy = domain.BillingPolicy(payer_rules=rules)
    (medicaid,) = domain.record_charge(session(50, modality="video", place="client_home"),
                                       SCHEDULE, policy, payer_kind="medicaid")
    assert medicaid.data["lines"][0]["modifiers"] == ["GT"]
    assert medicaid.data["place_of_service"] == "02"
    (insured,) = domain.record_charge(session(50, modality="phone", place="client_home"),
                                      SCHEDULE, policy, payer_kind="insurer")
    assert insured.data["lines"][0]["modifiers"] == [] and insured.data["place_of_service"] == "10"
    with pytest.raises(InvalidInput) as raised:
        fees.set_policy(payer_rules={"martian": {}})
    assert "payer_rules" in raised.value.fields


# -- fee schedules by effective date ---------------------------------------------------------
def test_fee_schedule_versions_by_effective_date():
    history = domain.FeeScheduleHistory.from_events(("org-1", "clinic-1"), [
        event("FeeScheduleSet", {"currency": "USD", "prices": {"90834": 100}}, 1),
        event("FeeScheduleSet", {"currency": "USD", "prices": {"90834": 200},
                                 "effective_from": "2026-03-01"}, 2),
        event("FeeScheduleSet", {"currency": "USD", "prices": {"90834": 300},
                                 "effective_from": "2026-06-01"}, 3),
    ])
    assert history.on("2025-01-01").price("90834") == 100
    assert history.on("2026-02-28").price("90834") == 100
    assert history.on("2026-03-01").price("90834") == 200
    assert history.on(date(2026, 5, 31)).price("90834") == 200
    assert history.on("2026-06-01").price("90834") == 300
    # An undated schedule replaces every earlier version.
    replaced = domain.FeeScheduleHistory.from_events(("org-1", "clinic-1"), list(
        history_events()) + [
        event("FeeScheduleSet", {"currency": "EUR", "prices": {"90834": 400}}, 4)])
    assert replaced.on("2027-01-01").price("90834") == 400
    assert replaced.on("2020-01-01").currency == "EUR"
    only_dated = domain.FeeScheduleHistory.from_events(("org-1", "clinic-1"), [
        event("FeeScheduleSet", {"currency": "USD", "prices": {"90834": 1},
                                 "effective_from": "2026-03-01"})])
    assert only_dated.on("2026-02-01") is None


def history_events():
    yield event("FeeScheduleSet", {"currency": "USD", "prices": {"90834": 200},
                                   "effective_from": "2026-03-01"}, 1)


@pytest.mark.parametrize("currency, prices, field", [
    ("usd", {"90834": 1}, "currency"),
    ("USD", {"90834": -1}, "prices.90834"),
    ("USD", {"90834": 1.5}, "prices.90834"),
    ("USD", {"90834": True}, "prices.90834"),
    ("USD", {"bad code!": 1}, "prices.bad code!"),
    ("USD", {}, "prices"),
])
def test_fee_schedule_refuses_bad_money_naming_the_field(currency, prices, field):
    with pytest.raises(InvalidInput) as raised:
        domain.set_fee_schedule(currency, prices)
    assert field in raised.value.fields


def test_set_fee_schedule_event_fits_its_schema():
    (new,) = domain.set_fee_schedule("USD", {"90837": 16000, "90832": 9000}, "2026-04-01")
    assert list(new.data["prices"]) == ["90832", "90837"]
    assert new.data["effective_from"] == "2026-04-01"
    assert schema_of("FeeScheduleSet").validate(new.data) == {}


# -- charges -----------------------------------------------------------------------------
def test_charge_has_deterministic_ids_lines_and_fits_its_schema():
    held = session(45)
    (first,) = domain.record_charge(held, SCHEDULE)
    (again,) = domain.record_charge(held, SCHEDULE)
    assert first.id == again.id == domain.charge_event_id(held.appointment_id)
    assert first.data["charge_id"] == domain.charge_id_of(held.appointment_id)
    assert (first.data["code"], first.data["amount_minor"], first.data["status"]) == \
        ("90834", 12000, "ready")
    assert first.data["lines"] == [{"code": "90834", "units": 1, "modifiers": [],
                                    "fee_minor": 12000, "amount_minor": 12000}]
    assert schema_of("ChargeRecorded").validate(first.data) == {}
    (crisis,) = domain.record_charge(session(110, "crisis"), SCHEDULE)
    assert [(l["code"], l["units"], l["fee_minor"]) for l in crisis.data["lines"]] == \
        [("90839", 1, 21000), ("90840", 2, 20000)]
    assert crisis.data["amount_minor"] == 41000
    (unpriced,) = domain.record_charge(session(10), None)
    assert unpriced.data["billable"] is False and unpriced.data["currency"] is None
    assert schema_of("ChargeRecorded").validate(unpriced.data) == {}
    (no_price,) = domain.record_charge(session(50, "family"),
                                       domain.FeeSchedule("USD", {"90834": 1}))
    assert no_price.data["billable"] is False and "90847" in no_price.data["reason"]


def test_price_session_keeps_the_old_shape():
    pricing = domain.price_session(15, SCHEDULE)
    assert (pricing.code, pricing.billable, pricing.amount_minor, pricing.currency) == \
        (None, False, 0, "USD")
    assert type(domain.price_session(53, SCHEDULE).amount_minor) is int


def test_bill_only_signed_notes_holds_until_signed_and_cosigned():
    policy = domain.BillingPolicy(bill_only_signed_notes=True)
    (unsigned,) = domain.record_charge(session(45), SCHEDULE, policy)
    assert unsigned.data["status"] == "held" and "not signed" in unsigned.data["hold_reason"]
    supervised = domain.NoteState(signed=True, pending_supervision=True)
    (awaiting,) = domain.record_charge(session(45), SCHEDULE, policy, note=supervised)
    assert awaiting.data["status"] == "held" and "co-sign" in awaiting.data["hold_reason"]
    cosigned = domain.NoteState(True, True, True)
    (ready,) = domain.record_charge(session(45), SCHEDULE, policy, note=cosigned)
    assert ready.data["status"] == "ready"
    (default,) = domain.record_charge(session(45), SCHEDULE)  # default: bill at once
    assert default.data["status"] == "ready"
    charge = charged(session(45), SCHEDULE, policy)
    assert charge.status == "held"
    assert charge.release(domain.NoteState(True, True, False)) == []
    (released,) = saved(charge, charge.release(cosigned))
    assert released.id == fees.deterministic_id("ChargeReleased", charge.appointment_id)
    assert schema_of("ChargeReleased").validate(released.data) == {}
    assert charge.status == "ready" and charge.release(cosigned) == []


# -- fee policies ----------------------------------------------------------------------------
POLICY = domain.BillingPolicy(late_cancel_fee_minor=5000, no_show_fee_minor=7500)
GIVEN = datetime(2026, 1, 1, tzinfo=timezone.utc)
MISSED = datetime(2026, 3, 2, 15, tzinfo=timezone.utc)


def missed(kind="late_cancel", payer="self_pay", given=GIVEN, policy=POLICY, schedule=SCHEDULE):
    result = fees.missed_appointment_fee(kind, str(uuid.uuid4()), str(uuid.uuid4()), "clin-1",
                                         "2026-03-02", policy, schedule, payer, given, MISSED)
    return result[0].data if result else None


def test_late_cancel_and_no_show_fees_when_the_policy_was_accepted():
    late, no_show = missed("late_cancel"), missed("no_show")
    assert (late["billable"], late["amount_minor"], late["currency"]) == (True, 5000, "USD")
    assert (no_show["billable"], no_show["amount_minor"]) == (True, 7500)
    assert schema_of("FeeCharged").validate(late) == {}


@pytest.mark.parametrize("payer", ["insurer", "medicaid"])
def test_no_missed_appointment_fee_for_insurer_or_medicaid(payer):
    fee = missed(payer=payer)
    assert fee["billable"] is False and fee["amount_minor"] == 0 and payer in fee["reason"]


def test_no_fee_without_accepting_the_policy_beforehand_or_without_a_policy():
    assert missed(given=None)["billable"] is False
    late_consent = missed(given=datetime(2026, 3, 3, tzinfo=timezone.utc))
    assert late_consent["billable"] is False and "beforehand" in late_consent["reason"]
    assert missed(policy=domain.BillingPolicy()) is None
    assert missed(payer=None)["billable"] is False


def test_96127_only_where_the_schedule_lists_it():
    (fee,) = fees.instrument_fee(str(uuid.uuid4()), str(uuid.uuid4()), "2026-03-02", SCHEDULE)
    assert (fee.data["code"], fee.data["amount_minor"], fee.data["kind"]) == \
        ("96127", 500, "assessment")
    assert schema_of("FeeCharged").validate(fee.data) == {}
    assert fees.instrument_fee("a", "c", "2026-03-02", domain.FeeSchedule("USD", {"90834": 1})) \
        == []
    assert fees.instrument_fee("a", "c", "2026-03-02", None) == []


def test_96127_is_a_clinic_policy_choice_on_by_default():
    on, off = domain.BillingPolicy(), domain.BillingPolicy(charge_instrument_administration=False)
    assert on.charge_instrument_administration is True
    assert len(fees.instrument_fee("a", "c", "2026-03-02", SCHEDULE, policy=on)) == 1
    assert fees.instrument_fee("a", "c", "2026-03-02", SCHEDULE, policy=off) == []
    (switched_off,) = fees.set_policy(charge_instrument_administration=False)
    assert schema_of("BillingPolicySet").validate(switched_off.data) == {}
    assert switched_off.data["charge_instrument_administration"] is False
    # A policy set before the switch existed reads as charging 96127.
    older = {k: v for k, v in on.to_data().items() if k != "charge_instrument_administration"}
    assert schema_of("BillingPolicySet").validate(older) == {}
    assert domain.ClinicPolicy.from_events(("org-1", "clinic-1"), [
        event("BillingPolicySet", older)]).policy.charge_instrument_administration is True
    assert domain.ClinicPolicy.new("org-1", "clinic-1").policy == domain.BillingPolicy()


def test_sliding_scale_by_start_date_and_only_for_self_pay():
    scale = domain.SlidingScale.from_events(("org-1", "clinic-1", "client-1"), [
        event("SlidingScaleSet", {"client_id": str(uuid.uuid4()), "percent": 20,
                                  "starts_on": "2026-02-01", "set_by": "u"}),
        event("SlidingScaleSet", {"client_id": str(uuid.uuid4()), "percent": 50,
                                  "starts_on": "2026-04-01", "set_by": "u"}, 2)])
    assert [scale.percent_on(d) for d in ("2026-01-31", "2026-02-01", "2026-04-01")] == \
        [0, 20, 50]
    (discounted,) = domain.record_charge(session(45), SCHEDULE, payer_kind="self_pay",
                                         sliding_percent=20)
    assert (discounted.data["amount_minor"], discounted.data["full_amount_minor"]) == \
        (9600, 12000)
    (insured,) = domain.record_charge(session(45), SCHEDULE, payer_kind="insurer",
                                      sliding_percent=20)
    assert insured.data["amount_minor"] == 12000
    with pytest.raises(InvalidInput):
        fees.set_sliding_scale(str(uuid.uuid4()), 20, "2026-01-01", "medicaid", "u")
    with pytest.raises(InvalidInput) as raised:
        fees.set_sliding_scale(str(uuid.uuid4()), 101, "2026-01-01", "self_pay", "u")
    assert "percent" in raised.value.fields


# -- money arithmetic ------------------------------------------------------------------------
def test_percentages_round_half_up_to_whole_minor_units():
    assert fees.percent_of(12345, 10) == 1235   # 1234.5 -> 1235
    assert fees.percent_of(12344, 10) == 1234
    assert fees.discounted(9999, 33) == 9999 - 3300
    assert all(type(fees.discounted(a, p)) is int for a in (0, 1, 999) for p in (0, 33, 100))
    assert fees.discounted(12000, 100) == 0 and fees.discounted(12000, 0) == 12000


def test_no_rounding_drift_over_many_payments():
    rng = random.Random(7)
    account = an_account("client-1")
    invoices = []
    for n in range(40):
        invoice_id = f"inv-{n}"
        total = rng.randint(1, 30000)
        saved(account, account.draft_invoice(
            invoice_id, [{"charge_id": f"c{n}", "service_date": "2026-01-01", "code": "90834",
                          "description": "x", "amount_minor": total, "currency": "USD"}],
            "2026-01-01", "2026-01-31"))
        saved(account, account.issue(invoice_id, date(2026, 2, 1), 30))
        invoices.append(total)
    paid = 0
    for n in range(1000):  # a thousand odd-sized payments, some overpaying at the end
        amount = rng.randint(1, 997)
        saved(account, account.receive_payment(f"p{n}", amount, "USD", "card", "2026-02-02",
                                                None, "u"))
        paid += amount
    due = sum(i.due_minor for i in account.invoices.values())
    assert due + paid - account.credit_minor == sum(invoices)
    assert due == max(0, sum(invoices) - paid) and account.credit_minor == max(0, paid - sum(invoices))
    assert all(type(i.paid_minor) is int for i in account.invoices.values())


# -- the account ---------------------------------------------------------------------------
def an_account(client_id):
    return domain.ClientAccount.new("org-1", "clinic-1", client_id)


def charge_line(charge_id, amount, currency="USD"):
    return {"charge_id": charge_id, "service_date": "2026-03-02", "code": "90834",
            "description": "individual session 90834", "amount_minor": amount,
            "currency": currency}


def test_invoice_life_partial_payment_overpayment_credit_refund_write_off():
    account = an_account(str(uuid.uuid4()))
    inv1, inv2 = str(uuid.uuid4()), str(uuid.uuid4())
    (drafted,) = saved(account, account.draft_invoice(
        inv1, [charge_line(str(uuid.uuid4()), 12000)], "2026-03-01", "2026-03-31"))
    assert schema_of("InvoiceDrafted").validate(drafted.data) == {}
    with pytest.raises(Conflict):
        account.receive_payment("p0", 100, "USD", "card", "2026-04-01", None, "u", inv1)  # draft
    issued = saved(account, account.issue(inv1, date(2026, 4, 1), 30))
    assert [e.name for e in issued] == ["InvoiceIssued"] and issued[0].data["due_on"] == "2026-05-01"
    with pytest.raises(Conflict):
        account.issue(inv1, date(2026, 4, 1), 30)
    partial = saved(account, account.receive_payment(
        str(uuid.uuid4()), 5000, "USD", "cash", "2026-04-02", None, "u"))
    assert [e.name for e in partial] == ["PaymentReceived"]
    assert account.invoices[inv1].due_minor == 7000
    over = saved(account, account.receive_payment(
        str(uuid.uuid4()), 10000, "USD", "card", "2026-04-03", "visa 4242", "u"))
    assert [e.name for e in over] == ["PaymentReceived", "InvoicePaid"]
    assert over[0].data["allocations"][0]["amount_minor"] == 7000
    assert over[0].data["credit_minor"] == 3000 and account.credit_minor == 3000
    for new in over:
        assert schema_of(new.name).validate(new.data) == {}
    with pytest.raises(InvalidInput):
        account.receive_payment("p", 1, "EUR", "card", "2026-04-03", None, "u")
    # A second invoice takes the credit when issued.
    saved(account, account.draft_invoice(
        inv2, [charge_line(str(uuid.uuid4()), 9000)], "2026-04-01", "2026-04-30"))
    issued = saved(account, account.issue(inv2, date(2026, 5, 1), 30))
    assert [e.name for e in issued] == ["InvoiceIssued", "CreditApplied"]
    assert account.invoices[inv2].due_minor == 6000 and account.credit_minor == 0
    with pytest.raises(Conflict):
        account.refund("r", 1, "USD", "card", "2026-05-02", "asked", "u")
    (off, paid) = saved(account, account.write_off(
        str(uuid.uuid4()), inv2, None, "2026-05-03", "hardship", "u"))
    assert (off.data["amount_minor"], paid.name) == (6000, "InvoicePaid")
    with pytest.raises(Conflict):
        account.write_off("w", inv2, 1, "2026-05-03", "x", "u")
    # Voiding a paid invoice returns what was paid on it as credit, which can be refunded.
    (voided,) = saved(account, account.void(inv1, "billed in error", "u"))
    assert voided.data["credit_returned_minor"] == 12000 and account.credit_minor == 12000
    (refund,) = saved(account, account.refund(
        str(uuid.uuid4()), 2000, "USD", "transfer", "2026-05-04", "asked", "u"))
    assert schema_of("RefundIssued").validate(refund.data) == {}
    assert account.credit_minor == 10000


def test_invoice_refuses_nothing_mixed_currencies_and_charges_twice():
    account = an_account("c")
    with pytest.raises(Conflict):
        account.draft_invoice("i", [], "2026-01-01", "2026-01-31")
    with pytest.raises(Conflict):
        account.draft_invoice("i", [charge_line("a", 1), charge_line("b", 1, "EUR")],
                              "2026-01-01", "2026-01-31")
    saved(account, account.draft_invoice("i1", [charge_line("a", 1)], "2026-01-01",
                                         "2026-01-31"))
    with pytest.raises(Conflict):
        account.draft_invoice("i2", [charge_line("a", 1)], "2026-01-01", "2026-01-31")
    saved(account, account.void("i1", "wrong", "u"))
    saved(account, account.draft_invoice("i3", [charge_line("a", 1)], "2026-01-01",
                                         "2026-01-31"))
    with pytest.raises(InvalidInput):
        account.draft_invoice("i4", [charge_line("b", 1)], "2026-02-01", "2026-01-31")


def test_account_rebuilds_from_its_events():
    account = an_account("c")
    invoice_id = "11111111-1111-1111-1111-111111111111"
    produced = saved(account, account.draft_invoice(
        invoice_id, [charge_line(str(uuid.uuid4()), 5000)], "2026-01-01", "2026-01-31"))
    produced += saved(account, account.issue(invoice_id, date(2026, 2, 1), 14))
    produced += saved(account, account.receive_payment(
        str(uuid.uuid4()), 6000, "USD", "cheque", "2026-02-02", "cheque 12", "u"))
    replayed = domain.ClientAccount.from_events(
        ("org-1", "clinic-1", "c"), [event(n.name, n.data, i) for i, n in enumerate(produced, 1)])
    assert (replayed.version, replayed.stream_id) == (len(produced), "account-org-1/clinic-1/c")
    assert replayed == account and replayed.credit_minor == 1000


# -- provider profiles -------------------------------------------------------------------
def test_npi_check_digit():
    assert npi_is_valid("1234567893")
    assert not npi_is_valid("1234567890") and not npi_is_valid("12345") and not npi_is_valid(None)
    (profile,) = set_profile(None, "Praxis Clinic", "1234567893", "12-3456789", "1 Main St")
    assert schema_of("BillingProfileSet").validate(profile.data) == {}
    with pytest.raises(InvalidInput) as raised:
        set_profile("clin-1", "", "1234567890", "bad")
    assert set(raised.value.fields) == {"npi", "tax_id", "name"}


def test_streams():
    """Stored streams keep their names: the aggregates name them as the free functions
    before them did."""
    assert domain.FeeScheduleHistory.stream_of("org-1", "clinic-1") == \
        "fee-schedule-org-1/clinic-1"
    assert domain.ClinicPolicy.stream_of("o", "c") == "billing-policy-o/c"
    assert domain.SlidingScale.stream_of("o", "c", "x") == "sliding-scale-o/c/x"
    assert domain.BillingProfile.stream_of("o", "c", "") == "billing-profile-o/c/"
    assert domain.SessionCharge.stream_of("a") == "charge-a"
    assert domain.Fee.stream_of("f") == "fee-f"
    assert domain.ClientAccount.stream_of("o", "c", "x") == "account-o/c/x"


def test_family_session_without_the_client_bills_90846():
    from services.billing.domain import codes
    assert codes.session_codes("family", 50).lines == (("90847", 1),)
    assert codes.session_codes("family", 50, client_present=False).lines == (("90846", 1),)
    assert codes.session_codes("family", 25, client_present=False).lines == ()


def test_crisis_code_is_billed_once_a_day():
    from services.billing.domain import codes
    assert codes.session_codes("crisis", 60).lines == (("90839", 1),)
    second = codes.session_codes("crisis", 60, crisis_billed_that_day=True)
    assert second.lines == () and "once a day" in second.reason
