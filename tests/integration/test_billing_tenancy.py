"""Billing's tenancy (issue 11): every route finds the organisation and clinic of the
record it touches in billing's own store. A clinic_id in the request never widens
what the token allows: another organisation's client, a client of a clinic the
token lacks, and a client billing never heard of are 404 on every route (403 when
the request names a clinic the token lacks), nothing is stored, and no answer
carries the foreign client's id, name, date of birth or diagnosis."""
import io
import uuid

import pytest
from pypdf import PdfReader

from services.billing.service import Service as Billing
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

PRICES = {"90832": 9000, "90834": 12000, "90837": 16000, "+90785": 1500}
PERIOD = {"from": "2026-03-01", "to": "2026-03-31"}
NPI = "1234567893"
# The attacker: billing and front desk of org-1, clinic-1.
BILLING_A = token(role="billing", org="org-1", clinics=["clinic-1"])
FRONT_DESK_A = token(role="front_desk", org="org-1", clinics=["clinic-1"])


def tenant_token(org, clinic):
    return token(role="billing", org=org, clinics=[clinic])


@pytest.fixture
def billing(database_url, amqp_uri):
    with RunningService(Billing, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        for org, clinic in (("org-1", "clinic-1"), ("org-1", "clinic-2"), ("org-2", "clinic-1")):
            bearer = tenant_token(org, clinic)
            assert running.api.put(f"/clinics/{clinic}/fee-schedule",
                                   {"currency": "USD", "prices": PRICES},
                                   bearer=bearer).status_code == 200
            assert running.api.put(f"/clinics/{clinic}/billing-profile", {
                "name": f"Clinic {org}/{clinic}", "npi": NPI, "tax_id": "12-3456789"},
                bearer=bearer).status_code == 200
        yield running


def send(billing, service, name, data, org, clinic, subject=None, sequence=1):
    publish_event(billing.amqp_uri, make_event(
        service, name, data, subject=subject or f"{name}-{uuid.uuid4()}", org=org,
        clinic=clinic, sequence=sequence))


def client_with_a_paid_session(billing, org, clinic, name, date_of_birth, diagnosis):
    """A registered, diagnosed client with one session charged, invoiced, issued and
    partly paid, as their own clinic's billing staff see it."""
    client_id = str(uuid.uuid4())
    send(billing, "intake", "ClientRegistered", {
        "client_id": client_id, "name": name, "date_of_birth": date_of_birth,
        "contact": {"email": "someone@example.org"},
        "payer": {"kind": "insurer", "insurer_name": "Acme Health", "member_id": "M-991"},
        "registered_at": "2026-01-05T09:00:00Z"}, org, clinic)
    send(billing, "notes", "DiagnosesSet", {
        "client_id": client_id, "codes": [diagnosis], "set_by": "clin-1",
        "set_at": "2026-02-01T10:00:00Z"}, org, clinic)
    appointment_id = str(uuid.uuid4())
    send(billing, "scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id, "clinician_id": "clin-1",
        "start": "2026-03-02T15:00:00Z", "minutes": 45, "modality": "in_person",
        "session_type": "individual", "place_of_service": "office", "audio_only": False,
        "session_number": 1}, org, clinic, subject=f"appointment-{appointment_id}", sequence=3)
    own = tenant_token(org, clinic)
    api = billing.api

    def ready():
        bill = api.get(f"/clients/{client_id}/superbill", params=PERIOD, bearer=own)
        return (bill.status_code == 200 and bill.json()["diagnoses"] and bill.json()["services"]
                and bill.json()["client"]["name"] and bill.json())
    wait_until(ready, message=f"{name} billed at {org}/{clinic}")
    charge_id = api.get(f"/clients/{client_id}/balance", bearer=own).json()["charges"][0][
        "charge_id"]
    invoice = api.post(f"/clients/{client_id}/invoices", {
        "period_start": "2026-03-01", "period_end": "2026-03-31", "issue": True}, bearer=own)
    assert invoice.status_code == 201, invoice.text
    paid = api.post(f"/clients/{client_id}/payments", {
        "amount_minor": 15000, "currency": "USD", "method": "card"}, bearer=own)
    assert paid.status_code == 201, paid.text  # 3000 left as credit
    return {"client_id": client_id, "charge_id": charge_id,
            "invoice_id": invoice.json()["invoice_id"], "name": name,
            "date_of_birth": date_of_birth, "diagnosis": diagnosis}


def event_count(billing):
    return len(billing.application.store.read_all())


def leaks(response, victim):
    """The victim's facts found in an answer (its JSON, or the text of its PDF)."""
    text = response.text
    if response.headers.get("Content-Type") == "application/pdf":
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    return [fact for fact in (victim["client_id"], victim["name"], victim["date_of_birth"],
                              victim["diagnosis"]) if fact in text]


def attacks(victim, clinic_id):
    """Every billing route that touches a client, a charge or an invoice, aimed at the
    victim; `clinic_id` is added where a route takes one."""
    client, charge, invoice = victim["client_id"], victim["charge_id"], victim["invoice_id"]
    with_clinic = {"clinic_id": clinic_id} if clinic_id else {}
    payment = {"amount_minor": 500, "currency": "USD", "method": "cash", **with_clinic}
    return [
        ("GET", f"/clients/{client}/superbill", {"params": {**PERIOD, **with_clinic}}),
        ("GET", f"/clients/{client}/superbill.pdf", {"params": {**PERIOD, **with_clinic}}),
        ("POST", f"/clients/{client}/payments", {"json": payment}),
        ("POST", f"/clients/{client}/payments", {"json": {**payment, "invoice_id": invoice}}),
        ("POST", f"/clients/{client}/refunds", {"json": {**payment, "reason": "asked"}}),
        ("POST", f"/clients/{client}/invoices", {"json": {
            "period_start": "2026-03-01", "period_end": "2026-03-31", "issue": True,
            **with_clinic}}),
        ("PUT", f"/clients/{client}/sliding-scale", {"json": {
            "percent": 50, "starts_on": "2026-03-01", **with_clinic}}),
        ("GET", f"/clients/{client}/balance", {}),
        ("GET", f"/clients/{client}/ledger", {}),
        ("GET", f"/charges/{charge}", {}),
        ("POST", f"/charges/{charge}/add-ons", {"json": {"code": "+90785"}}),
        ("GET", f"/invoices/{invoice}", {}),
        ("POST", f"/invoices/{invoice}/issue", {}),
        ("POST", f"/invoices/{invoice}/void", {"json": {"reason": "mine now"}}),
        ("POST", f"/invoices/{invoice}/write-offs", {"json": {"reason": "mine now"}}),
    ]


def test_no_route_reaches_another_tenants_client(billing):
    api = billing.api
    foreign = client_with_a_paid_session(billing, "org-2", "clinic-1", "Grace Hopper",
                                         "1906-12-09", "F33.1")
    other_clinic = client_with_a_paid_session(billing, "org-1", "clinic-2", "Alan Turing",
                                              "1912-06-23", "F41.1")
    made_up = {"client_id": str(uuid.uuid4()), "charge_id": str(uuid.uuid4()),
               "invoice_id": str(uuid.uuid4()), "name": "Nobody Known",
               "date_of_birth": "1999-09-09", "diagnosis": "F99"}
    # The attacker's own client, so their clinic has records of its own.
    own = client_with_a_paid_session(billing, "org-1", "clinic-1", "Ada Lovelace",
                                     "1990-01-02", "F32.1")
    before = event_count(billing)

    for victim in (foreign, other_clinic, made_up):
        for clinic_id in (None, "clinic-1"):
            for bearer in (BILLING_A, FRONT_DESK_A):
                for method, path, kwargs in attacks(victim, clinic_id):
                    response = api.request(method, path, bearer=bearer, **kwargs)
                    what = (victim["name"], clinic_id, method, path)
                    # front desk may not do some of these at all: 403 by role
                    expected = (404, 403) if bearer == FRONT_DESK_A else (404,)
                    assert response.status_code in expected, (what, response.status_code,
                                                              response.text)
                    if bearer == BILLING_A:
                        assert response.status_code == 404, what
                    assert leaks(response, victim) == [], what
        # Naming a clinic the token lacks is 403, whatever the record.
        for method, path, kwargs in attacks(victim, "clinic-2"):
            if "clinic_id" in str(kwargs):
                response = api.request(method, path, bearer=BILLING_A, **kwargs)
                assert response.status_code == 403, (victim["name"], method, path)
                assert leaks(response, victim) == []

    # Payments with the attacker's front desk, the precise reproduction: 404.
    for victim in (foreign, other_clinic, made_up):
        response = api.post(f"/clients/{victim['client_id']}/payments", {
            "amount_minor": 100, "currency": "USD", "method": "card",
            "clinic_id": "clinic-1"}, bearer=FRONT_DESK_A)
        assert response.status_code == 404, response.text
    assert event_count(billing) == before  # nothing stored by any of it

    # Lists filtered by a foreign client id show nothing of theirs.
    for victim in (foreign, other_clinic):
        charges = api.get("/charges", params={"clinic_id": "clinic-1",
                                              "client_id": victim["client_id"]},
                          bearer=BILLING_A)
        assert charges.status_code == 200 and charges.json()["charges"] == []
        invoices = api.get("/invoices", params={"client_id": victim["client_id"]},
                           bearer=BILLING_A)
        assert invoices.status_code == 200 and invoices.json()["invoices"] == []
        assert leaks(charges, victim) == leaks(invoices, victim) == []

    # The attacker's own client still works, with or without naming the clinic, and
    # their superbill carries nothing of anybody else.
    for params in (PERIOD, {**PERIOD, "clinic_id": "clinic-1"}):
        bill = api.get(f"/clients/{own['client_id']}/superbill", params=params,
                       bearer=BILLING_A)
        assert bill.status_code == 200, bill.text
        assert (bill.json()["client"]["name"], bill.json()["diagnoses"]) == \
            ("Ada Lovelace", ["F32.1"])
        pdf = api.get(f"/clients/{own['client_id']}/superbill.pdf", params=params,
                      bearer=BILLING_A)
        assert pdf.status_code == 200
        assert leaks(pdf, own) != []  # the check would see a client's facts
        for victim in (foreign, other_clinic):
            assert leaks(bill, victim) == leaks(pdf, victim) == []
    # Naming a clinic of the organisation where the client has no records is 404.
    everywhere = token(role="billing", org="org-1", clinics=["*"])
    assert api.get(f"/clients/{own['client_id']}/superbill",
                   params={**PERIOD, "clinic_id": "clinic-2"},
                   bearer=everywhere).status_code == 404
    assert api.post(f"/clients/{own['client_id']}/payments", {
        "amount_minor": 100, "currency": "USD", "method": "card", "clinic_id": "clinic-2"},
        bearer=everywhere).status_code == 404
    assert event_count(billing) == before


def test_one_client_id_in_two_organisations_never_mixes(billing):
    """Rows of other services' clients are keyed by tenancy: the same client id at
    two organisations (or a replayed event of another tenant) keeps two records."""
    api = billing.api
    client_id = str(uuid.uuid4())
    for org, name, code in (("org-1", "Ada Lovelace", "F32.1"),
                            ("org-2", "Grace Hopper", "F33.1")):
        send(billing, "intake", "ClientRegistered", {
            "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
            "contact": {"email": "someone@example.org"},
            "payer": {"kind": "self_pay"} if org == "org-1" else {"kind": "insurer"},
            "registered_at": "2026-01-05T09:00:00Z"}, org, "clinic-1")
        send(billing, "notes", "DiagnosesSet", {
            "client_id": client_id, "codes": [code], "set_by": "clin-1",
            "set_at": "2026-02-01T10:00:00Z"}, org, "clinic-1")

    def superbill(org):
        response = api.get(f"/clients/{client_id}/superbill", params=PERIOD,
                           bearer=tenant_token(org, "clinic-1"))
        return response.status_code == 200 and response.json()["diagnoses"] and response.json()
    ada = wait_until(lambda: superbill("org-1"), message="org-1's client")
    grace = wait_until(lambda: superbill("org-2"), message="org-2's client")
    assert (ada["client"]["name"], ada["client"]["payer_kind"], ada["diagnoses"]) == \
        ("Ada Lovelace", "self_pay", ["F32.1"])
    assert (grace["client"]["name"], grace["client"]["payer_kind"], grace["diagnoses"]) == \
        ("Grace Hopper", "insurer", ["F33.1"])
    # The sliding scale judges the payer of the client at the caller's organisation.
    assert api.put(f"/clients/{client_id}/sliding-scale", {
        "percent": 20, "starts_on": "2026-03-01"},
        bearer=tenant_token("org-1", "clinic-1")).status_code == 200
    refused = api.put(f"/clients/{client_id}/sliding-scale", {
        "percent": 20, "starts_on": "2026-03-01"}, bearer=tenant_token("org-2", "clinic-1"))
    assert refused.status_code == 422 and "client_id" in refused.json()["fields"]
