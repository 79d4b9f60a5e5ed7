"""Billing in depth against a real broker and both databases: fee policies from
other services' events, signed-note holds, invoices and money, reports, superbills."""
import uuid
from datetime import date, timedelta

import pytest

from services.billing import domain
from services.billing.service import Service as Billing
from shared.projection import rebuild
from tests.superbill_checks import has_row, page_structure, pdf_lines
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

BILLING = token(role="billing")
PRICES = {"90791": 20000, "90832": 9000, "90834": 12000, "90837": 16000, "90839": 21000,
          "+90840": 10000, "+90785": 1500, "96127": 500}
CLINIC_NPI, CLINICIAN_NPI = "1234567893", "1245319599"


@pytest.fixture
def billing(database_url, amqp_uri):
    with RunningService(Billing, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        api = running.api
        assert api.put("/clinics/clinic-1/fee-schedule", {"currency": "USD", "prices": PRICES},
                       bearer=BILLING).status_code == 200
        yield running


def send(billing, service, name, data, subject=None, sequence=1):
    event = make_event(service, name, data, subject=subject or f"{name}-{uuid.uuid4()}",
                       sequence=sequence)
    publish_event(billing.amqp_uri, event)
    return event


def register(billing, payer=None, name="Ada Lovelace"):
    client_id = str(uuid.uuid4())
    send(billing, "intake", "ClientRegistered", {
        "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org"}, "payer": payer,
        "registered_at": "2026-01-05T09:00:00Z"})
    wait_until(lambda: _known(billing, client_id), message="client known to billing")
    return client_id


def _known(billing, client_id):
    from sqlalchemy import select
    from services.billing.read_models import billing_clients
    with billing.application.store.read() as conn:
        return conn.execute(select(billing_clients).where(
            billing_clients.c.client_id == client_id)).first() is not None


def hold_session(billing, client_id, minutes=45, day="2026-03-02", session_type="individual",
                 modality="in_person", place="office", appointment_id=None, clinician="clin-1"):
    appointment_id = appointment_id or str(uuid.uuid4())
    send(billing, "scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id, "clinician_id": clinician,
        "start": f"{day}T15:00:00Z", "minutes": minutes, "modality": modality,
        "session_type": session_type, "place_of_service": place, "audio_only": False,
        "session_number": 1}, subject=f"appointment-{appointment_id}", sequence=3)
    return appointment_id


def charges_of(billing, client_id, count):
    def check():
        response = billing.api.get(f"/clients/{client_id}/balance", bearer=BILLING)
        return (response.status_code == 200 and len(response.json()["charges"]) == count
                and response.json())
    return wait_until(check, message=f"{count} charge(s)")


def test_codes_modifiers_and_place_of_service_from_the_session(billing):
    client_id = register(billing, payer={"kind": "insurer", "insurer_name": "Acme",
                                         "member_id": "A1"})
    hold_session(billing, client_id, 110, "2026-03-02", "crisis")
    hold_session(billing, client_id, 50, "2026-03-03", modality="video", place="client_home")
    hold_session(billing, client_id, 10, "2026-03-04")
    body = charges_of(billing, client_id, 3)
    crisis, video, short = body["charges"]
    assert [(l["code"], l["units"]) for l in crisis["lines"]] == [("90839", 1), ("90840", 2)]
    assert crisis["amount_minor"] == 41000 and crisis["place_of_service"] == "11"
    assert (video["code"], video["place_of_service"], video["lines"][0]["modifiers"]) == \
        ("90834", "10", ["95"])
    assert short["billable"] is False and "16" in short["reason"]
    assert body["balance_minor"] == 41000 + 12000

    # Add-on compatibility: 90785 with 90834 yes, with crisis no.
    response = billing.api.post(f"/charges/{video['charge_id']}/add-ons", {"code": "+90785"},
                                bearer=BILLING)
    assert response.status_code == 201, response.text
    assert response.json()["amount_minor"] == 13500
    refused = billing.api.post(f"/charges/{crisis['charge_id']}/add-ons", {"code": "90785"},
                               bearer=BILLING)
    assert refused.status_code == 409 and "90839" in refused.json()["message"]
    again = billing.api.post(f"/charges/{video['charge_id']}/add-ons", {"code": "90785"},
                             bearer=BILLING)
    assert again.status_code == 409
    assert billing.api.get(f"/clients/{client_id}/balance",
                           bearer=BILLING).json()["balance_minor"] == 41000 + 13500


def test_fees_by_policy_only_with_consent_and_never_to_insurers(billing):
    api = billing.api
    assert api.put("/clinics/clinic-1/billing-policy", {"late_cancel_fee_minor": 5000,
                                                        "no_show_fee_minor": 7500},
                   bearer=BILLING).status_code == 200
    consenting = register(billing)
    no_consent = register(billing)
    insured = register(billing, payer={"kind": "medicaid"})
    for client_id in (consenting, insured):
        send(billing, "intake", "ConsentGiven", {
            "client_id": client_id, "kind": "cancellation_policy", "document_version": "v1",
            "given_at": "2026-01-05T09:00:00Z", "recorded_by": "user-1"})
    wait_until(lambda: _consents(billing) == 2, message="consents recorded")

    def cancel(client_id, late=True, by="client"):
        appointment_id = str(uuid.uuid4())
        send(billing, "scheduling", "AppointmentCancelled", {
            "appointment_id": appointment_id, "client_id": client_id, "clinician_id": "clin-1",
            "start": "2026-03-10T15:00:00Z", "cancelled_by": by, "notice_minutes": 120,
            "late": late, "reason": None, "cancelled_at": "2026-03-10T13:00:00Z"})
        return appointment_id

    def no_show(client_id):
        send(billing, "scheduling", "AppointmentNoShow", {
            "appointment_id": str(uuid.uuid4()), "client_id": client_id,
            "clinician_id": "clin-1", "start": "2026-03-11T15:00:00Z",
            "recorded_at": "2026-03-11T16:00:00Z"})

    cancel(consenting)
    no_show(consenting)
    cancel(consenting, late=False)            # in good time: no fee
    cancel(consenting, by="clinician")        # the clinic's doing: no fee
    body = charges_of(billing, consenting, 2)
    assert sorted((c["kind"], c["billable"], c["amount_minor"]) for c in body["charges"]) == \
        [("late_cancel", True, 5000), ("no_show", True, 7500)]
    assert body["balance_minor"] == 12500

    cancel(no_consent)
    (refused,) = charges_of(billing, no_consent, 1)["charges"]
    assert refused["billable"] is False and "cancellation policy" in refused["reason"]
    no_show(insured)
    (never,) = charges_of(billing, insured, 1)["charges"]
    assert never["billable"] is False and "medicaid" in never["reason"]
    assert api.get(f"/clients/{insured}/balance", bearer=BILLING).json()["balance_minor"] == 0


def _consents(billing):
    from sqlalchemy import func, select
    from services.billing.read_models import consent_history
    with billing.application.store.read() as conn:
        return conn.execute(select(func.count()).select_from(consent_history)).scalar()


def test_96127_per_instrument_and_sliding_scale(billing):
    client_id = register(billing)
    response = billing.api.put(f"/clients/{client_id}/sliding-scale",
                               {"percent": 25, "starts_on": "2026-03-01"}, bearer=BILLING)
    assert response.status_code == 200, response.text
    for instrument, day in (("PHQ-9", "2026-02-20"), ("GAD-7", "2026-03-05")):
        assessment = send(billing, "intake", "ClientAssessed", {
            "client_id": client_id, "assessment_id": str(uuid.uuid4()),
            "instrument": instrument, "kind": "initial", "answers": [1, 1, 1], "total": 3,
            "severity": "minimal", "assessed_at": f"{day}T10:00:00Z"})
    publish_event(billing.amqp_uri, assessment)  # a duplicate delivery changes nothing
    hold_session(billing, client_id, 45, "2026-02-27")
    hold_session(billing, client_id, 45, "2026-03-02")
    body = charges_of(billing, client_id, 4)
    assert [(c["code"], c["amount_minor"]) for c in body["charges"]] == [
        ("96127", 500), ("90834", 12000), ("90834", 9000), ("96127", 375)]
    assert body["charges"][2]["sliding_scale_percent"] == 25
    assert body["charges"][2]["full_amount_minor"] == 12000
    insured = register(billing, payer={"kind": "insurer"})
    refused = billing.api.put(f"/clients/{insured}/sliding-scale",
                              {"percent": 25, "starts_on": "2026-03-01"}, bearer=BILLING)
    assert refused.status_code == 422 and "client_id" in refused.json()["fields"]


def test_96127_only_while_the_clinic_policy_charges_instrument_administration(billing):
    api = billing.api
    assert api.get("/clinics/clinic-1/billing-policy",
                   bearer=BILLING).json()["charge_instrument_administration"] is True
    client_id = register(billing)

    def assessed(day):
        return send(billing, "intake", "ClientAssessed", {
            "client_id": client_id, "assessment_id": str(uuid.uuid4()), "instrument": "PHQ-9",
            "kind": "initial", "answers": [1, 1, 1], "total": 3, "severity": "minimal",
            "assessed_at": f"{day}T10:00:00Z"})

    assessed("2026-03-02")  # the default: charged
    charges_of(billing, client_id, 1)
    switched = api.put("/clinics/clinic-1/billing-policy",
                       {"charge_instrument_administration": False}, bearer=BILLING)
    assert switched.status_code == 200 and \
        switched.json()["charge_instrument_administration"] is False
    assert api.get("/clinics/clinic-1/billing-policy",
                   bearer=BILLING).json()["charge_instrument_administration"] is False
    unbilled = assessed("2026-03-09")
    wait_until(lambda: unbilled.id in {e.id for _, e in billing.application.store.read_all()},
               message="the second assessment consumed")
    body = charges_of(billing, client_id, 1)
    assert [(c["code"], c["service_date"]) for c in body["charges"]] == [("96127", "2026-03-02")]
    bad = api.put("/clinics/clinic-1/billing-policy",
                  {"charge_instrument_administration": "sometimes"}, bearer=BILLING)
    assert bad.status_code == 422 and "charge_instrument_administration" in bad.json()["fields"]


def test_bill_only_signed_notes_holds_until_signed_and_cosigned(billing):
    api = billing.api
    assert api.put("/clinics/clinic-1/billing-policy", {"bill_only_signed_notes": True},
                   bearer=BILLING).status_code == 200
    client_id = register(billing)
    supervised = hold_session(billing, client_id, 45, "2026-03-02")
    signed_first = str(uuid.uuid4())

    def sign(appointment_id, pending):
        send(billing, "notes", "NoteSigned", {
            "note_id": str(uuid.uuid4()), "appointment_id": appointment_id,
            "client_id": client_id, "clinician_id": "clin-1", "format": "SOAP",
            "signed_by": "clin-1", "signed_at": "2026-03-02T17:00:00Z",
            "pending_supervision": pending})

    sign(signed_first, False)  # the note is signed before billing hears of the session
    wait_until(lambda: _note_known(billing, signed_first), message="signature recorded")
    hold_session(billing, client_id, 60, "2026-03-03", appointment_id=signed_first)
    body = charges_of(billing, client_id, 2)
    assert [c["status"] for c in body["charges"]] == ["held", "ready"]
    assert body["balance_minor"] == 16000
    unbilled = api.get("/clinics/clinic-1/unbilled", bearer=BILLING).json()
    assert [c["appointment_id"] for c in unbilled["held"]] == [supervised]

    sign(supervised, True)
    wait_until(lambda: _note_known(billing, supervised), message="signature recorded")
    assert api.get(f"/clients/{client_id}/balance",
                   bearer=BILLING).json()["charges"][0]["status"] == "held"
    cosigned = make_event("notes", "NoteCoSigned", {
        "note_id": str(uuid.uuid4()), "appointment_id": supervised, "client_id": client_id,
        "cosigned_by": "supervisor-1", "cosigned_at": "2026-03-03T09:00:00Z"},
        subject=f"note-{supervised}")
    publish_event(billing.amqp_uri, cosigned)
    publish_event(billing.amqp_uri, cosigned)
    wait_until(lambda: api.get(f"/clients/{client_id}/balance", bearer=BILLING)
               .json()["balance_minor"] == 28000, message="charge released")
    released = [e for _, e in billing.application.store.read_all() if e.name == "ChargeReleased"]
    # The note signed first releases its charge as it is recorded (the same events as
    # when the signature comes after the session); the supervised one once, co-signed.
    assert sorted((e.data["appointment_id"], e.data["reason"]) for e in released) == sorted(
        [(signed_first, "note signed"), (supervised, "note co-signed")])


def _note_known(billing, appointment_id):
    from sqlalchemy import select
    from services.billing.read_models import note_status
    with billing.application.store.read() as conn:
        return conn.execute(select(note_status).where(
            note_status.c.appointment_id == appointment_id)).first() is not None


def test_invoices_payments_credit_refunds_write_offs_and_reports(billing):
    api = billing.api
    client_id = register(billing)
    for day, minutes in (("2026-03-02", 45), ("2026-03-09", 30), ("2026-04-06", 60)):
        hold_session(billing, client_id, minutes, day, clinician="clin-1")
    charges_of(billing, client_id, 3)

    march = api.post(f"/clients/{client_id}/invoices",
                     {"period_start": "2026-03-01", "period_end": "2026-03-31"}, bearer=BILLING)
    assert march.status_code == 201, march.text
    march = march.json()
    assert (march["status"], march["total_minor"], len(march["lines"])) == ("draft", 21000, 2)
    nothing = api.post(f"/clients/{client_id}/invoices",
                       {"period_start": "2026-03-01", "period_end": "2026-03-31"},
                       bearer=BILLING)
    assert nothing.status_code == 409  # those charges are on the draft already
    bad = api.post(f"/clients/{client_id}/invoices", {"period_start": "March"}, bearer=BILLING)
    assert bad.status_code == 422 and {"period_start", "period_end"} <= set(bad.json()["fields"])

    issued = api.post(f"/invoices/{march['invoice_id']}/issue", bearer=BILLING).json()
    assert issued["status"] == "issued" and issued["due_minor"] == 21000
    paid = api.post(f"/clients/{client_id}/payments", {
        "amount_minor": 5000, "currency": "USD", "method": "card"}, bearer=BILLING)
    assert paid.status_code == 201, paid.text
    assert api.get(f"/invoices/{march['invoice_id']}", bearer=BILLING).json()["due_minor"] == 16000
    over = api.post(f"/clients/{client_id}/payments", {
        "amount_minor": 20000, "currency": "USD", "method": "cheque", "reference": "no. 12",
        "invoice_id": march["invoice_id"]}, bearer=token(role="front_desk")).json()
    assert over["credit_minor"] == 4000 and over["invoices_paid"] == [march["invoice_id"]]
    assert api.get(f"/invoices/{march['invoice_id']}", bearer=BILLING).json()["status"] == "paid"
    balance = api.get(f"/clients/{client_id}/balance", bearer=BILLING).json()
    assert (balance["balance_minor"], balance["credit_minor"]) == (16000 - 4000, 4000)

    april = api.post(f"/clients/{client_id}/invoices", {
        "period_start": "2026-04-01", "period_end": "2026-04-30", "issue": True},
        bearer=BILLING).json()
    assert (april["status"], april["paid_minor"], april["due_minor"]) == ("issued", 4000, 12000)
    too_much = api.post(f"/clients/{client_id}/refunds", {
        "amount_minor": 1, "currency": "USD", "method": "card", "reason": "asked"},
        bearer=BILLING)
    assert too_much.status_code == 409
    off = api.post(f"/invoices/{april['invoice_id']}/write-offs",
                   {"amount_minor": 2000, "reason": "hardship"}, bearer=BILLING)
    assert off.status_code == 201 and off.json()["due_minor"] == 10000
    wrong_currency = api.post(f"/clients/{client_id}/payments", {
        "amount_minor": 100, "currency": "EUR", "method": "cash"}, bearer=BILLING)
    assert wrong_currency.status_code == 422 and "currency" in wrong_currency.json()["fields"]
    for payload, field in (({"amount_minor": 0, "currency": "USD", "method": "card"},
                            "amount_minor"),
                           ({"amount_minor": 10.5, "currency": "USD", "method": "card"},
                            "amount_minor"),
                           ({"amount_minor": 100, "currency": "USD", "method": "bitcoin"},
                            "method")):
        response = api.post(f"/clients/{client_id}/payments", payload, bearer=BILLING)
        assert response.status_code == 422 and field in response.json()["fields"]

    # Void the paid March invoice: what was paid on it becomes credit, then refunded.
    voided = api.post(f"/invoices/{march['invoice_id']}/void", {"reason": "billed in error"},
                      bearer=BILLING).json()
    assert voided["status"] == "void"
    refund = api.post(f"/clients/{client_id}/refunds", {
        "amount_minor": 21000, "currency": "USD", "method": "transfer",
        "reason": "billed in error"}, bearer=BILLING)
    assert refund.status_code == 201, refund.text

    balance = api.get(f"/clients/{client_id}/balance", bearer=BILLING).json()
    # charged 37000 - paid 25000 + refunded 21000 - written off 2000
    assert balance["balance_minor"] == 31000 and balance["credit_minor"] == 0
    ledger = api.get(f"/clients/{client_id}/ledger", bearer=BILLING).json()
    assert ledger["entries"][-1]["balance_minor"] == 31000
    assert sum(e["amount_minor"] for e in ledger["entries"]) == 31000
    assert {e["kind"] for e in ledger["entries"]} == {"charge", "payment", "refund", "write_off"}
    unbilled = api.get("/clinics/clinic-1/unbilled", bearer=BILLING).json()
    assert len(unbilled["ready"]) == 2  # the voided invoice's charges are unbilled again

    by_status = api.get("/invoices", params={"clinic_id": "clinic-1"}, bearer=BILLING).json()
    assert by_status["by_status"] == {"void": 1, "issued": 1}
    issued_only = api.get("/invoices", params={"clinic_id": "clinic-1", "status": "issued"},
                          bearer=BILLING).json()["invoices"]
    assert [i["invoice_id"] for i in issued_only] == [april["invoice_id"]]

    today = date.today()
    for days, bucket in ((0, "0-30"), (45, "31-60"), (75, "61-90"), (200, "over_90")):
        ageing = api.get("/clinics/clinic-1/receivables",
                         params={"as_of": (today + timedelta(days=days)).isoformat()},
                         bearer=BILLING).json()
        (usd,) = ageing["totals"]
        assert usd[bucket] == 10000 and usd["total_minor"] == 10000, (days, usd)

    revenue = api.get("/clinics/clinic-1/revenue", params={"from": "2026-03", "to": "2026-04"},
                      bearer=BILLING).json()
    assert [(r["month"], r["clinician_id"], r["charged_minor"], r["charges"])
            for r in revenue["by_clinician"]] == [("2026-03", "clin-1", 21000, 2),
                                                  ("2026-04", "clin-1", 16000, 1)]
    month = {m["month"]: m for m in revenue["by_month"]}
    assert month["2026-03"]["charged_minor"] == 21000
    everything = api.get("/clinics/clinic-1/revenue", bearer=BILLING).json()["by_month"]
    # Payments were received today; the refund and write-off too.
    assert sum(m["collected_minor"] for m in everything) == 25000
    assert sum(m["refunded_minor"] for m in everything) == 21000
    assert sum(m["written_off_minor"] for m in everything) == 2000
    assert api.get("/clinics/clinic-1/revenue", params={"from": "March"},
                   bearer=BILLING).status_code == 422
    assert api.get("/clinics/clinic-1/revenue", bearer=token(role="clinician")).status_code == 403
    assert api.get("/clinics/clinic-1/receivables",
                   bearer=token(role="billing", clinics=["clinic-2"])).status_code == 403
    assert api.get(f"/invoices/{april['invoice_id']}",
                   bearer=token(role="billing", org="org-2", clinics=["*"])).status_code == 404

    # Everything above is derived from events: a rebuild gives the same rows.
    store = billing.application.store
    with store.read() as conn:
        before = store.projection.snapshot(conn)
    rebuild(store)
    with store.read() as conn:
        after = store.projection.snapshot(conn)
    for table in before:
        assert set(after[table]) ^ set(before[table]) == set(), repr((table, sorted(set(before[table]) - set(after[table])), sorted(set(after[table]) - set(before[table]))))
    assert after == before


def test_invoice_per_session_and_superbill_json_and_pdf(billing):
    api = billing.api
    assert api.put("/clinics/clinic-1/billing-policy", {"invoice_per": "session"},
                   bearer=BILLING).status_code == 200
    assert api.put("/clinics/clinic-1/billing-profile", {
        "name": "Praxis Clinic", "npi": CLINIC_NPI, "tax_id": "12-3456789",
        "address": "1 Main St, Springfield"}, bearer=BILLING).status_code == 200
    bad = api.put("/clinics/clinic-1/clinicians/clin-1/billing-profile",
                  {"name": "Dr Grace Hopper", "npi": "1234567890"}, bearer=BILLING)
    assert bad.status_code == 422 and "npi" in bad.json()["fields"]
    assert api.put("/clinics/clinic-1/clinicians/clin-1/billing-profile",
                   {"name": "Dr Grace Hopper", "npi": CLINICIAN_NPI},
                   bearer=BILLING).status_code == 200
    client_id = register(billing, name="Ada Lovelace")
    send(billing, "notes", "DiagnosesSet", {"client_id": client_id, "codes": ["F32.1", "F41.1"],
                                            "set_by": "clin-1", "set_at": "2026-03-01T10:00:00Z"})
    hold_session(billing, client_id, 50, "2026-03-02", modality="video", place="client_home")
    hold_session(billing, client_id, 30, "2026-03-09")
    charges_of(billing, client_id, 2)
    invoices = wait_until(lambda: len(i := api.get("/invoices", params={
        "client_id": client_id}, bearer=BILLING).json()["invoices"]) == 2 and i,
        message="an invoice per session")
    assert [(i["status"], i["total_minor"]) for i in invoices] == [("issued", 12000),
                                                                   ("issued", 9000)]
    api.post(f"/clients/{client_id}/payments", {"amount_minor": 12000, "currency": "USD",
                                                "method": "card", "received_on": "2026-03-05"},
             bearer=BILLING)

    # Instruments: 96127 on the video session's day, and on a day without a session.
    for day in ("2026-03-02", "2026-03-20"):
        send(billing, "intake", "ClientAssessed", {
            "client_id": client_id, "assessment_id": str(uuid.uuid4()), "instrument": "PHQ-9",
            "kind": "initial", "answers": [1, 1, 1], "total": 3, "severity": "minimal",
            "assessed_at": f"{day}T10:00:00Z"})
    charges_of(billing, client_id, 4)

    wait_until(lambda: api.get(f"/clients/{client_id}/superbill", params={
        "from": "2026-03-01", "to": "2026-03-31"}, bearer=BILLING).json()["diagnoses"],
        message="diagnoses known")
    bill = api.get(f"/clients/{client_id}/superbill",
                   params={"from": "2026-03-01", "to": "2026-03-31"}, bearer=BILLING).json()
    assert bill["provider"]["npi"] == CLINIC_NPI and bill["provider"]["tax_id"] == "12-3456789"
    assert bill["client"] == {"client_id": client_id, "name": "Ada Lovelace",
                              "date_of_birth": "1990-01-02", "payer_kind": "self_pay",
                              "insurer_name": None, "member_id": None, "address": None}
    assert bill["diagnoses"] == ["F32.1", "F41.1"]
    assert bill["diagnosis_pointers"] == [{"pointer": "A", "code": "F32.1"},
                                          {"pointer": "B", "code": "F41.1"}]
    assert bill["rendering_providers"] == [
        {"clinician_id": "clin-1", "name": "Dr Grace Hopper", "npi": CLINICIAN_NPI}]
    # Every line has its place of service: 96127 that of the day's session, else office.
    assert [(s["date"], s["code"], s["modifiers"], s["place_of_service"], s["units"],
             s["fee_minor"], s["paid_minor"], s["rendering_npi"], s["diagnosis_pointer"])
            for s in bill["services"]] == [
        ("2026-03-02", "90834", ["95"], "10", 1, 12000, 12000, CLINICIAN_NPI, "AB"),
        ("2026-03-02", "96127", [], "10", 1, 500, 0, None, "AB"),
        ("2026-03-09", "90832", [], "11", 1, 9000, 0, CLINICIAN_NPI, "AB"),
        ("2026-03-20", "96127", [], "11", 1, 500, 0, None, "AB")]
    assert (bill["total_charged_minor"], bill["total_paid_minor"], bill["balance_minor"]) == \
        (22000, 12000, 10000)

    pdf = api.get(f"/clients/{client_id}/superbill.pdf",
                  params={"from": "2026-03-01", "to": "2026-03-31"}, bearer=BILLING)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    lines = pdf_lines(pdf.content)
    for row in (["Name", "Praxis Clinic"], ["NPI", CLINIC_NPI], ["Tax ID (EIN)", "12-3456789"],
                ["Address", "1 Main St, Springfield"], ["Name", "Ada Lovelace"],
                ["Date of birth", "1990-01-02"], ["Payer", "Self-pay"],
                ["Dr Grace Hopper", CLINICIAN_NPI], ["A. F32.1", "B. F41.1"],
                ["2026-03-02", "10", "90834", "95", "1", "AB", CLINICIAN_NPI, "USD 120.00",
                 "USD 120.00"],
                ["2026-03-02", "10", "96127", "-", "1", "AB", "-", "USD 5.00", "USD 0.00"],
                ["2026-03-09", "11", "90832", "-", "1", "AB", CLINICIAN_NPI, "USD 90.00",
                 "USD 0.00"],
                ["2026-03-20", "11", "96127", "-", "1", "AB", "-", "USD 5.00", "USD 0.00"],
                ["Total charged", "USD 220.00"], ["Total paid", "USD 120.00"],
                ["Balance due", "USD 100.00"], ["Provider signature", "Date"]):
        assert has_row(lines, row), (row, lines)
    ink, across, down = page_structure(pdf.content)
    assert 0.005 < ink < 0.3 and across >= 15 and down >= 10, (ink, across, down)
    assert api.get(f"/clients/{client_id}/superbill", params={"from": "2026-03-01"},
                   bearer=BILLING).json()["fields"].keys() == {"to"}


def test_family_without_the_client_and_crisis_once_a_day(billing):
    client_id = register(billing)
    appointment_id = str(uuid.uuid4())
    send(billing, "scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id, "clinician_id": "clin-1",
        "start": "2026-03-02T15:00:00Z", "minutes": 50, "modality": "in_person",
        "session_type": "family", "place_of_service": "office", "audio_only": False,
        "session_number": 1, "client_present": False},
        subject=f"appointment-{appointment_id}", sequence=3)
    hold_session(billing, client_id, 60, "2026-03-05", "crisis")
    hold_session(billing, client_id, 45, "2026-03-05", "crisis")  # same day
    charges = charges_of(billing, client_id, 3)["charges"]
    assert [c["code"] for c in charges].count("90846") == 1
    crisis = [c for c in charges if c["code"] != "90846"]
    billed = [c for c in crisis if c["billable"]]
    refused = [c for c in crisis if not c["billable"]]
    assert [c["code"] for c in billed] == ["90839"]
    assert len(refused) == 1 and "once a day" in refused[0]["reason"]
