"""Billing stopped while clients are registered, renamed and switched payer and their
sessions held (issue 13): on restart its queues (one per event type) drain in an
order of their own, and still every charge has the payer in force when its session
took place and billing's client rows the latest names."""
from datetime import datetime, timedelta, timezone

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text

from shared.consumer import subscription_queue_name
from tests.support import wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"
PAYERS = {
    "self_pay": {"kind": "self_pay"},
    "insurer": {"kind": "insurer", "insurer_name": "Acme Health", "member_id": "A-100"},
    "medicaid": {"kind": "medicaid", "insurer_name": "State Medicaid", "member_id": "M-7"},
}
CYCLE = ["insurer", "self_pay", "medicaid"]


def consumers(amqp_uri, queue):
    try:
        with Connection(amqp_uri) as connection:
            return connection.default_channel.queue_declare(queue, passive=True).consumer_count
    except Exception:
        return 0


def rows(praxis, service, query):
    engine = create_engine(praxis.env[f"PRAXIS_{service.upper()}_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).all()
    finally:
        engine.dispose()


def created(call, message):
    """Retry until the service has seen what it needs (4xx until then)."""
    answers = []

    def attempt():
        answers.append(call())
        return answers[-1] if answers[-1].status_code in (200, 201) else None
    try:
        return wait_until(attempt, timeout=30, interval=0.1, message=message)
    except AssertionError:
        raise AssertionError(f"{message}: {answers[-1].status_code} {answers[-1].text}")


def test_a_billing_restarted_after_an_outage_charges_the_payer_of_the_session_time(praxis):
    amqp_uri = praxis.env["PRAXIS_AMQP_URI"]
    for producer in ("intake", "scheduling"):
        queue = subscription_queue_name(producer, "billing")
        wait_until(lambda: consumers(amqp_uri, queue) > 0, timeout=30,
                   message=f"billing listening on {queue}")
    intake, scheduling, billing = (praxis.api(s) for s in ("intake", "scheduling", "billing"))
    assert billing.put(f"/clinics/{CLINIC}/fee-schedule", {
        "currency": "USD", "prices": {"90834": 12000}}).status_code == 200

    praxis.stop("billing")  # its queues keep what arrives meanwhile

    def patch(client_id, changes):
        response = intake.request("PATCH", f"/clients/{client_id}", json=changes)
        assert response.status_code == 200, response.text

    def hold(client_id, clinician, start):
        booked = created(lambda: scheduling.post("/appointments", {
            "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
            "clinician_id": clinician, "start": start.isoformat(), "duration_minutes": 50,
            "modality": "video", "override_working_hours": True}), "scheduling knows the client")
        appointment_id = booked.json()["appointment_id"]
        held = scheduling.post(f"/appointments/{appointment_id}/held", {"minutes": 50})
        assert held.status_code == 201, held.text
        return appointment_id

    def scheduling_has(client_id, revision):
        wait_until(lambda: rows(praxis, "scheduling", f"SELECT details_revision FROM clients "
                                f"WHERE client_id = '{client_id}'") == [(revision,)],
                   timeout=30, message=f"scheduling at revision {revision} of {client_id}")

    expected, names = {}, {}
    long_ago = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
    for number in range(10):
        first = CYCLE[number % 3]
        name = f"Client {number}"
        client = intake.post("/clients", {
            "organisation_id": ORG, "clinic_id": CLINIC, "name": name,
            "date_of_birth": "1990-01-02", "contact": {"email": f"c{number}@example.org"},
            "payer": PAYERS[first]})
        assert client.status_code == 201, client.text
        client_id = client.json()["client_id"]
        clinician = f"clinician-{number}"
        # A session before the registration: the registration's payer.
        expected[hold(client_id, clinician, long_ago + timedelta(hours=number))] = first
        revision, second = 1, first
        if number % 2 == 0:
            second = CYCLE[(number + 1) % 3]
            patch(client_id, {"payer": PAYERS[second]})
            revision += 1
        if number % 3 == 0:
            name = f"Client {number} Renamed"
            patch(client_id, {"name": name})
            revision += 1
        scheduling_has(client_id, revision)  # the front desk holds it a moment later
        # After the changes (whole seconds: a moment ahead; holding allows 5 minutes early).
        start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
        expected[hold(client_id, clinician, start)] = second
        if number % 4 == 0:  # switched again after the session: the session keeps its payer
            wait_until(lambda: datetime.now(timezone.utc) > start, message="session begun")
            patch(client_id, {"payer": PAYERS[CYCLE[(number + 2) % 3]],
                              "name": f"Client {number} Final"})
            name = f"Client {number} Final"
        names[client_id] = name

    praxis.start("billing")
    charged = wait_until(
        lambda: (found := rows(praxis, "billing", "SELECT appointment_id, payer_kind FROM "
                               "charges")) and len(found) == len(expected) and found,
        timeout=90, interval=0.5, message=f"billing charged all {len(expected)} sessions")
    assert dict(charged) == expected
    latest = dict(rows(praxis, "billing", "SELECT client_id, name FROM billing_clients"))
    assert latest == names
    assert rows(praxis, "billing", "SELECT count(*) FROM deferred_reactions") == [(0,)]
    # The insurers' sessions carry no self-pay price; the balance shows them charged.
    for client_id in names:
        assert billing.get(f"/clients/{client_id}/balance").status_code == 200
