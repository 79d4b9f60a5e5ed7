"""End to end across four processes: a session held in scheduling becomes a charge
in billing, goes on an invoice, is paid, and appears on a superbill (JSON and PDF)."""
from datetime import datetime, timedelta, timezone

import pytest
from kombu import Connection

from shared.consumer import subscription_queue_name
from tests.superbill_checks import has_row, pdf_lines
from tests.support import wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


def created(call, message):
    """POST until the service has seen the events it needs (it answers 4xx until then)."""
    answers = []

    def attempt():
        response = call()
        answers.append(response)
        return response if response.status_code in (200, 201) else None
    try:
        return wait_until(attempt, timeout=20, interval=0.1, message=message)
    except AssertionError:
        raise AssertionError(f"{message}: {answers[-1].status_code} {answers[-1].text}")


def consumers(amqp_uri, queue):
    try:
        with Connection(amqp_uri) as connection:
            return connection.default_channel.queue_declare(queue, passive=True).consumer_count
    except Exception:
        return 0


def test_session_to_paid_invoice_and_superbill(praxis):
    # /healthz answers before every consumer is bound; an event published to an
    # exchange with no queue bound yet is lost for that subscriber.
    queue = subscription_queue_name("intake", "billing")
    wait_until(lambda: consumers(praxis.env["PRAXIS_AMQP_URI"], queue) > 0, timeout=20,
               message="billing listening for ClientRegistered")
    intake, scheduling, billing = (praxis.api(s) for s in ("intake", "scheduling", "billing"))
    assert billing.put(f"/clinics/{CLINIC}/fee-schedule", {
        "currency": "USD", "prices": {"90832": 9000, "90834": 12000, "90837": 16000}}
    ).status_code == 200
    assert billing.put(f"/clinics/{CLINIC}/billing-profile", {
        "name": "Praxis Clinic", "npi": "1234567893", "tax_id": "12-3456789"}).status_code == 200

    client = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
        "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
        "address": {"line1": "12 St James's Square", "city": "London",
                    "postal_code": "SW1Y 4JH", "country": "GB"}})
    assert client.status_code == 201, client.text
    client_id = client.json()["client_id"]

    start = (datetime.now(timezone.utc) - timedelta(days=3)).replace(hour=10, minute=0,
                                                                     second=0, microsecond=0)
    booked = created(lambda: scheduling.post("/appointments", {
        "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
        "clinician_id": "clinician-1", "start": start.isoformat(), "duration_minutes": 50,
        "modality": "video"}), "scheduling to know the client")
    held = scheduling.post(f"/appointments/{booked.json()['appointment_id']}/held",
                           {"minutes": 50})
    assert held.status_code == 201, held.text

    balance = wait_until(lambda: (b := billing.get(f"/clients/{client_id}/balance"))
                         .status_code == 200 and b.json()["charges"] and b.json(),
                         timeout=30, message="the charge")
    (charge,) = balance["charges"]
    assert (charge["code"], charge["amount_minor"], charge["lines"][0]["modifiers"]) == \
        ("90834", 12000, ["95"])
    day = charge["service_date"]

    invoice = created(lambda: billing.post(f"/clients/{client_id}/invoices", {
        "period_start": day, "period_end": day, "issue": True}), "the invoice")
    invoice = invoice.json()
    assert (invoice["status"], invoice["total_minor"]) == ("issued", 12000)
    paid = billing.post(f"/clients/{client_id}/payments", {
        "amount_minor": 12000, "currency": "USD", "method": "card",
        "invoice_id": invoice["invoice_id"]})
    assert paid.status_code == 201, paid.text
    assert billing.get(f"/invoices/{invoice['invoice_id']}").json()["status"] == "paid"
    assert billing.get(f"/clients/{client_id}/balance").json()["balance_minor"] == 0

    answers = []

    def superbill():
        answers.append(billing.get(f"/clients/{client_id}/superbill",
                                   params={"from": day, "to": day}))
        return (answers[-1].status_code == 200 and answers[-1].json()["client"]["name"]
                and answers[-1].json())
    try:
        bill = wait_until(superbill, timeout=30, message="the superbill with the client")
    except AssertionError:
        problems = [line for service in ("billing", "intake")
                    for line in (praxis.log_dir / f"{service}.log").read_text().splitlines()
                    if '"level": "info"' not in line]
        raise AssertionError(f"{answers[-1].status_code} {answers[-1].text}\n"
                             + "\n".join(problems[-40:]))
    assert bill["client"] == {"client_id": client_id, "name": "Ada Lovelace",
                              "date_of_birth": "1990-01-02", "payer_kind": "self_pay",
                              "insurer_name": None, "member_id": None,
                              "address": "12 St James's Square\nLondon, SW1Y 4JH\nGB"}
    assert [(s["code"], s["fee_minor"], s["paid_minor"]) for s in bill["services"]] == \
        [("90834", 12000, 12000)]
    pdf = billing.get(f"/clients/{client_id}/superbill.pdf", params={"from": day, "to": day})
    assert pdf.status_code == 200
    lines = pdf_lines(pdf.content)
    for row in (["Name", "Praxis Clinic"], ["NPI", "1234567893"], ["Name", "Ada Lovelace"],
                ["Address", "12 St James's Square"], ["London, SW1Y 4JH"],
                [day, "10", "90834", "95", "1"], ["Total paid", "USD 120.00"],
                ["Balance due", "USD 0.00"]):
        assert has_row(lines, row), (row, lines)
