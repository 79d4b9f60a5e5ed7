"""Billing's application on SQLite, without a broker: commands through a Caller, other
services' events fed to `consume()` as the envelopes they publish (tests/billing_clinic.py).
Every refusal here is the domain's or the tenancy's, as a request would meet it."""
import uuid
from datetime import date

import pytest

from services.billing.adapters import superbill_pdf
from services.billing.domain import ClientAccount, SessionCharge
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.billing_clinic import CLINIC, CLINIC_NPI, INSURER, ORG, Clinic, caller

MARCH = {"period_start": date(2026, 3, 1), "period_end": date(2026, 3, 31)}


@pytest.fixture
def clinic(tmp_path):
    clinic = Clinic(f"sqlite:///{tmp_path}/billing.db")
    yield clinic
    clinic.close()


def test_a_fee_schedule_is_set_outright_and_read_back(clinic):
    app, staff = clinic.app, clinic.staff
    again = app.set_fee_schedule(staff, CLINIC, {"currency": "USD", "prices": {"90834": 13000},
                                                 "effective_from": date(2026, 6, 1)})
    assert again["version"] == 2  # a blind write: appended whatever the stream held
    read = app.fee_schedule(staff.principal, CLINIC)
    assert [(v["version"], v["prices"].get("90834")) for v in read["versions"]] == \
        [(1, 12000), (2, 13000)]
    (event,) = clinic.own_events("FeeScheduleSet")[1:]
    assert event.correlationid == staff.correlation_id  # the caller's context
    with pytest.raises(InvalidInput):
        app.set_fee_schedule(staff, CLINIC, {"currency": "usd", "prices": {"90834": -1}})
    with pytest.raises(Forbidden):
        app.set_fee_schedule(caller(clinics=("clinic-2",)), CLINIC,
                             {"currency": "USD", "prices": {"90834": 1}})


def test_a_session_held_is_priced_for_the_payer_the_client_had_then(clinic):
    self_pay, insured = clinic.register(), clinic.register(INSURER)
    clinic.app.set_sliding_scale(clinic.staff, self_pay, {"percent": 25,
                                                          "starts_on": date(2026, 1, 1)})
    before = clinic.hold_session(self_pay, 45, "2026-03-02")
    clinic.change_payer(self_pay, INSURER, "2026-03-05T09:00:00Z")
    after = clinic.hold_session(self_pay, 45, "2026-03-09")
    clinic.hold_session(insured, 53, "2026-03-02")
    charges = {c["appointment_id"]: c for c in clinic.charges(self_pay)}
    assert (charges[before]["code"], charges[before]["amount_minor"],
            charges[before]["sliding_scale_percent"]) == ("90834", 9000, 25)
    assert (charges[after]["amount_minor"], charges[after]["sliding_scale_percent"]) == \
        (12000, 0)  # an insurer's client: no sliding scale
    assert [c["amount_minor"] for c in clinic.charges(insured)] == [16000]


def test_a_charge_is_made_once_per_appointment_and_waits_for_its_client(clinic):
    client_id = str(uuid.uuid4())
    appointment_id = clinic.hold_session(client_id)  # billing has not heard of the client
    assert clinic.own_events("ChargeRecorded") == []
    clinic.register(client_id=client_id)  # the deferred reaction resumes
    (charge,) = clinic.charges(client_id)
    assert charge["appointment_id"] == appointment_id
    # scheduling's correction: a second SessionHeld for the appointment changes nothing
    clinic.hold_session(client_id, 60, appointment_id=appointment_id, sequence=4)
    assert len(clinic.own_events("ChargeRecorded")) == 1
    with clinic.app.store.read() as conn:
        assert clinic.app.store.read_stream(SessionCharge.stream_of(appointment_id),
                                            conn=conn)[0].sequence == 1


def test_a_late_cancel_before_the_consent_it_follows_waits_and_is_charged(tmp_path):
    """Scheduling stamped the cancellation with revision 2 (the consent it had seen):
    billing does not decide the fee without it, and charges it when it arrives."""
    clinic = Clinic(f"sqlite:///{tmp_path}/billing.db", late_cancel_fee_minor=5000)
    try:
        client_id = clinic.register()
        appointment_id = clinic.cancel_late(client_id, "2026-03-10T13:00:00Z", revision=2)
        assert clinic.own_events("FeeCharged") == []
        assert [(w["type"], w["reason"]) for w in clinic.app.deferred_reactions()] == \
            [("praxis.scheduling.AppointmentCancelled.v1", "client_details_behind")]
        clinic.consent(client_id, "2026-03-01T09:00:00Z", revision=2, sequence=3)
        assert clinic.app.deferred_reactions() == []
        (fee,) = clinic.own_events("FeeCharged")
        assert (fee.data["appointment_id"], fee.data["kind"], fee.data["billable"],
                fee.data["amount_minor"]) == (appointment_id, "late_cancel", True, 5000)
    finally:
        clinic.close()


def test_a_consent_withdrawn_before_the_cancellation_earns_no_fee(tmp_path):
    """Decided by the consent in force when the client cancelled: withdrawn before it,
    no fee; accepted again after it, still none for it (a change never reaches back)."""
    clinic = Clinic(f"sqlite:///{tmp_path}/billing.db", late_cancel_fee_minor=5000)
    try:
        client_id = clinic.register()
        clinic.consent(client_id, "2026-03-01T09:00:00Z", revision=2, sequence=3)
        clinic.consent(client_id, "2026-03-05T09:00:00Z", revision=3, sequence=4, given=False)
        clinic.consent(client_id, "2026-03-12T09:00:00Z", revision=4, sequence=5)
        clinic.cancel_late(client_id, "2026-03-10T13:00:00Z", revision=3)
        (fee,) = clinic.own_events("FeeCharged")
        assert (fee.data["billable"], fee.data["amount_minor"]) == (False, 0)
        assert "cancellation policy" in fee.data["reason"]
        assert [c["billable"] for c in clinic.charges(client_id)] == [False]
    finally:
        clinic.close()


def test_a_held_charge_is_released_by_its_signed_note_and_takes_an_add_on(tmp_path):
    clinic = Clinic(f"sqlite:///{tmp_path}/held.db", bill_only_signed_notes=True)
    client_id = clinic.register()
    appointment_id = clinic.hold_session(client_id)
    (held,) = clinic.charges(client_id)
    assert held["status"] == "held"
    clinic.feed("notes", "NoteSigned", {
        "note_id": str(uuid.uuid4()), "appointment_id": appointment_id, "client_id": client_id,
        "clinician_id": "clin-1", "format": "SOAP", "signed_by": "clin-1",
        "signed_at": "2026-03-02T17:00:00Z", "pending_supervision": False})
    charge = clinic.app.add_on(clinic.staff, held["charge_id"], {"code": "+90785"})
    assert (charge["status"], charge["amount_minor"]) == ("ready", 13500)
    with pytest.raises(Conflict):
        clinic.app.add_on(clinic.staff, held["charge_id"], {"code": "90785"})  # has it
    clinic.invoice_issued(client_id)
    with pytest.raises(Conflict):  # invoiced: void the invoice first
        clinic.app.add_on(clinic.staff, held["charge_id"], {"code": "90785"})
    clinic.close()


def test_an_invoice_is_drafted_issued_and_voided_once(clinic):
    app, staff = clinic.app, clinic.staff
    client_id = clinic.register()
    clinic.hold_session(client_id)
    with pytest.raises(Conflict):  # nothing to invoice in February
        app.draft_invoice(staff, client_id, {"period_start": date(2026, 2, 1),
                                             "period_end": date(2026, 2, 28)})
    draft = app.draft_invoice(staff, client_id, MARCH)
    assert (draft["status"], draft["total_minor"]) == ("draft", 12000)
    with pytest.raises(Conflict):  # its charges are on it already
        app.draft_invoice(staff, client_id, MARCH)
    issued = app.issue_invoice(staff, draft["invoice_id"])
    assert (issued["status"], issued["due_minor"]) == ("issued", 12000)
    with pytest.raises(Conflict):
        app.issue_invoice(staff, draft["invoice_id"])
    voided = app.void_invoice(staff, draft["invoice_id"], {"reason": "billed in error"})
    assert voided["status"] == "void"
    with pytest.raises(Conflict):
        app.void_invoice(staff, draft["invoice_id"], {"reason": "again"})
    redrafted = app.draft_invoice(staff, client_id, {**MARCH, "issue": True})
    assert redrafted["status"] == "issued"  # a void invoice frees its charges
    with pytest.raises(NotFound):
        app.issue_invoice(caller(clinics=("clinic-2",)), redrafted["invoice_id"])


def test_payments_settle_oldest_first_and_the_rest_is_credit(clinic):
    client_id = clinic.register()
    clinic.hold_session(client_id, day="2026-03-02")
    first = clinic.invoice_issued(client_id)
    clinic.hold_session(client_id, day="2026-04-06")
    second = clinic.invoice_issued(client_id, date(2026, 4, 1), date(2026, 4, 30))
    partial = clinic.pay(client_id, 5000)
    assert partial["allocations"] == [{"invoice_id": first["invoice_id"], "amount_minor": 5000}]
    over = clinic.pay(client_id, 20000)
    assert over["invoices_paid"] == [first["invoice_id"], second["invoice_id"]]
    assert over["credit_minor"] == 1000
    assert clinic.app.balance(clinic.staff.principal, client_id)["credit_minor"] == 1000
    with pytest.raises(InvalidInput):  # the account is kept in USD
        clinic.app.receive_payment(clinic.staff, client_id, {
            "amount_minor": 1, "currency": "EUR", "method": "card"})
    with pytest.raises(Conflict):  # paid already
        clinic.pay(client_id, 1, invoice_id=first["invoice_id"])


def test_a_refund_is_of_credit_only(clinic):
    client_id = clinic.register()
    clinic.hold_session(client_id)
    clinic.invoice_issued(client_id)
    clinic.pay(client_id, 15000)  # 3000 over
    refund = {"amount_minor": 2000, "currency": "USD", "method": "card", "reason": "asked"}
    assert clinic.app.refund(clinic.staff, client_id, refund)["amount_minor"] == 2000
    with pytest.raises(Conflict):
        clinic.app.refund(clinic.staff, client_id, {**refund, "amount_minor": 1001})
    assert len(clinic.own_events("RefundIssued")) == 1


def test_a_write_off_is_of_what_is_due_and_settles_the_invoice(clinic):
    app, staff = clinic.app, clinic.staff
    client_id = clinic.register()
    clinic.hold_session(client_id)
    invoice = clinic.invoice_issued(client_id)
    clinic.pay(client_id, 2000)
    with pytest.raises(Conflict):
        app.write_off(staff, invoice["invoice_id"], {"amount_minor": 10001, "reason": "x"})
    written = app.write_off(staff, invoice["invoice_id"], {"reason": "hardship"})
    assert (written["status"], written["written_off_minor"], written["due_minor"]) == \
        ("paid", 10000, 0)
    with pytest.raises(Conflict):
        app.write_off(staff, invoice["invoice_id"], {"reason": "hardship"})


def test_a_clinic_invoicing_per_session_issues_one_as_each_charge_is_ready(tmp_path):
    clinic = Clinic(f"sqlite:///{tmp_path}/per-session.db", invoice_per="session",
                    payment_terms_days=14)
    client_id = clinic.register()
    clinic.hold_session(client_id)
    (invoice,) = clinic.app.list_invoices(clinic.staff.principal, {
        "client_id": client_id, "limit": 10, "offset": 0})["invoices"]
    assert (invoice["status"], invoice["total_minor"]) == ("issued", 12000)
    with clinic.app.store.read() as conn:
        stream = clinic.app.store.read_stream(ClientAccount.stream_of(ORG, CLINIC, client_id),
                                              conn=conn)
    assert [(e.name, e.sequence) for e in stream] == [("InvoiceDrafted", 1),
                                                      ("InvoiceIssued", 2)]
    clinic.close()


def test_a_superbill_needs_the_clinics_profile_and_lists_what_was_paid(clinic):
    app, staff = clinic.app, clinic.staff
    client_id = clinic.register(INSURER)
    clinic.feed("notes", "DiagnosesSet", {"client_id": client_id, "codes": ["F32.1"],
                                          "set_by": "clin-1", "set_at": "2026-03-01T10:00:00Z"})
    clinic.hold_session(client_id)
    invoice = clinic.invoice_issued(client_id)
    clinic.pay(client_id, 12000, invoice_id=invoice["invoice_id"])
    period = {"start": date(2026, 3, 1), "end": date(2026, 3, 31)}
    with pytest.raises(Conflict):  # no billing profile yet
        app.superbill(staff.principal, client_id, period)
    app.set_profile(staff, CLINIC, None, {"name": "Praxis Clinic", "npi": CLINIC_NPI,
                                          "tax_id": "12-3456789", "address": "1 Main St"})
    with pytest.raises(InvalidInput):
        app.set_profile(staff, CLINIC, "clin-1", {"name": "Dr Lee", "npi": "1234567890"})
    bill = app.superbill(staff.principal, client_id, period)
    assert bill["diagnoses"] == ["F32.1"] and bill["balance_minor"] == 0
    assert [(s["code"], s["fee_minor"], s["paid_minor"]) for s in bill["services"]] == \
        [("90834", 12000, 12000)]
    assert superbill_pdf.render(bill).startswith(b"%PDF")
    with pytest.raises(InvalidInput):
        app.superbill(staff.principal, client_id, {"start": date(2026, 3, 31),
                                                   "end": date(2026, 3, 1)})
