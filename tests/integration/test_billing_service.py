import json
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.billing import domain
from services.billing.service import Service as Billing
from shared.consumer import subscription_queue_name
from shared.projection import rebuild
from shared.store import events_table
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

SCHEDULE = {"currency": "USD", "prices": {"90832": 9000, "90834": 12000, "90837": 16000}}
BILLING = token(role="billing")
HANDLER_QUEUE = subscription_queue_name("scheduling", "billing")


@pytest.fixture
def billing(database_url, amqp_uri):
    with RunningService(Billing, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def session_held(client_id, minutes=45, appointment_id=None, start="2026-03-02T15:00:00Z",
                 clinic="clinic-1", org="org-1", event_id=None, sequence=1):
    appointment_id = appointment_id or str(uuid.uuid4())
    return make_event("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id, "clinician_id": "clin-1",
        "start": start, "minutes": minutes, "modality": "in_person", "session_number": 1,
        "session_type": "individual", "place_of_service": "office", "audio_only": False,
    }, subject=f"appointment-{appointment_id}", org=org, clinic=clinic,
        event_id=event_id, sequence=sequence)


def known(billing, *client_ids, clinic="clinic-1"):
    """Intake registers the clients: billing prices a session only for a client it knows
    (a session before its client waits: test_billing_order_independence.py)."""
    for client_id in client_ids:
        publish_event(billing.amqp_uri, make_event("intake", "ClientRegistered", {
            "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org"}, "registered_at": "2026-01-05T09:00:00Z",
            "primary_clinician_id": "user-1"},  # token()'s clinician: in the care team
            subject=f"client-{client_id}", clinic=clinic))


def balance(billing, client_id, bearer=BILLING):
    return billing.api.get(f"/clients/{client_id}/balance", bearer=bearer)


def wait_for_charges(billing, client_id, count):
    def check():
        response = balance(billing, client_id)
        return response.status_code == 200 and len(response.json()["charges"]) == count \
            and response.json()
    return wait_until(check, message=f"{count} charge(s) for {client_id}")


def stored_ids(billing):
    return {event.id for _, event in billing.application.store.read_all()}


def consumed(outcome):
    return REGISTRY.get_sample_value("praxis_events_consumed_total", {
        "service": "billing", "type": "SessionHeld", "outcome": outcome}) or 0.0


def test_fee_schedule_put_and_get(billing):
    api = billing.api
    assert api.get("/clinics/clinic-1/fee-schedule", bearer=BILLING).status_code == 404
    response = api.put("/clinics/clinic-1/fee-schedule", SCHEDULE, bearer=BILLING)
    assert response.status_code == 200, response.text
    assert response.json()["prices"] == SCHEDULE["prices"] and response.json()["version"] == 1
    changed = {"currency": "USD", "prices": {"90834": 12500}}
    assert api.put("/clinics/clinic-1/fee-schedule", changed,
                   bearer=token(role="admin")).json()["version"] == 2
    read = api.get("/clinics/clinic-1/fee-schedule").json()
    assert (read["currency"], read["prices"], read["organisation_id"]) == \
        ("USD", {"90834": 12500}, "org-1")
    (stream,) = {e.subject for _, e in billing.application.store.read_all()}
    assert stream == "fee-schedule-org-1/clinic-1"


def test_session_held_makes_exactly_one_charge_and_publishes_it(billing):
    # Bind before anything is published, as a subscriber would.
    exchange = Exchange("billing.events", type="topic", durable=True)
    watch = Queue("test-billing-events", exchange=exchange, routing_key="*.ChargeRecorded")
    with Connection(billing.amqp_uri) as connection:
        watch(connection.default_channel).declare()

    assert billing.api.put("/clinics/clinic-1/fee-schedule", SCHEDULE,
                           bearer=BILLING).status_code == 200
    client_id = str(uuid.uuid4())
    known(billing, client_id)
    # 22:30 in New York on 2 March is 3 March in UTC.
    held = session_held(client_id, minutes=45, start="2026-03-02T22:30:00-05:00")
    appointment_id = held.data["appointment_id"]
    publish_event(billing.amqp_uri, held)
    body = wait_for_charges(billing, client_id, 1)
    (charge,) = body["charges"]
    assert (charge["code"], charge["billable"], charge["amount_minor"], charge["currency"]) == \
        ("90834", True, 12000, "USD")
    assert charge["service_date"] == "2026-03-03" and charge["appointment_id"] == appointment_id
    assert charge["charge_id"] == domain.charge_id_of(appointment_id)
    assert (body["balance_minor"], body["currency"], body["clinic_id"]) == (12000, "USD", "clinic-1")

    # The same envelope again, then a second SessionHeld for the same appointment.
    duplicates = consumed("duplicate")
    publish_event(billing.amqp_uri, held)
    wait_until(lambda: consumed("duplicate") > duplicates, message="the redelivery handled")
    # A later event of scheduling's appointment stream (a correction, say).
    second = session_held(client_id, minutes=60, appointment_id=appointment_id, sequence=2)
    publish_event(billing.amqp_uri, second)
    wait_until(lambda: second.id in stored_ids(billing), message="second SessionHeld recorded")
    again = balance(billing, client_id).json()
    assert again["charges"] == body["charges"] and again["balance_minor"] == 12000
    store = billing.application.store
    charges = [e for _, e in store.read_all() if e.name == "ChargeRecorded"]
    assert [e.id for e in charges] == [domain.charge_event_id(appointment_id)]
    assert charges[0].subject == f"charge-{appointment_id}" and charges[0].sequence == 1
    assert charges[0].causationid == held.id and charges[0].correlationid == held.correlationid

    # Published to billing.events with the event id as the AMQP message id.
    with Connection(billing.amqp_uri) as connection:
        bound = watch(connection.default_channel)
        message = wait_until(lambda: bound.get(no_ack=True), message="ChargeRecorded published")
        envelope = json.loads(message.body)
        assert message.properties["message_id"] == charges[0].id == envelope["id"]
        assert envelope["type"] == "praxis.billing.ChargeRecorded.v1"
        assert envelope["data"]["amount_minor"] == 12000
        assert bound.get(no_ack=True) is None  # one charge, one message


def test_balance_sums_sessions_and_lists_charges(billing):
    api = billing.api
    partial = {"currency": "EUR", "prices": {"90832": 8000, "90834": 11000}}
    assert api.put("/clinics/clinic-1/fee-schedule", partial, bearer=BILLING).status_code == 200
    client_id, other_client = str(uuid.uuid4()), str(uuid.uuid4())
    sessions = [session_held(client_id, minutes=m, start=f"2026-04-0{day}T10:00:00Z")
                for day, m in ((1, 30), (2, 50), (3, 15), (4, 55))]
    sessions.append(session_held(other_client, minutes=16))
    known(billing, client_id, other_client)
    for event in sessions:
        publish_event(billing.amqp_uri, event)
    body = wait_for_charges(billing, client_id, 4)
    assert [(c["code"], c["billable"], c["amount_minor"]) for c in body["charges"]] == [
        ("90832", True, 8000), ("90834", True, 11000), (None, False, 0), ("90837", False, 0)]
    assert "16" in body["charges"][2]["reason"] and "90837" in body["charges"][3]["reason"]
    assert all(type(c["amount_minor"]) is int for c in body["charges"])
    assert (body["balance_minor"], body["currency"]) == (19000, "EUR")
    assert body["balances"] == [{"clinic_id": "clinic-1", "currency": "EUR",
                                 "balance_minor": 19000, "charges": 2, "charged_minor": 19000,
                                 "paid_minor": 0, "refunded_minor": 0, "written_off_minor": 0,
                                 "credit_minor": 0}]
    wait_for_charges(billing, other_client, 1)

    listed = api.get("/charges", params={"clinic_id": "clinic-1"}, bearer=BILLING).json()
    assert len(listed["charges"]) == 5
    only = api.get("/charges", params={"clinic_id": "clinic-1", "client_id": other_client},
                   bearer=BILLING).json()["charges"]
    assert [c["amount_minor"] for c in only] == [8000]
    assert api.get("/charges", bearer=BILLING).json()["fields"].keys() == {"clinic_id"}

    # A clinic without a fee schedule: recorded, not billable, no currency.
    elsewhere = str(uuid.uuid4())
    known(billing, elsewhere, clinic="clinic-2")
    publish_event(billing.amqp_uri, session_held(elsewhere, minutes=45, clinic="clinic-2"))
    everywhere = token(role="billing", clinics=["*"])
    wait_until(lambda: balance(billing, elsewhere, bearer=everywhere).status_code == 200,
               message="charge at clinic-2")
    unpriced = balance(billing, elsewhere, bearer=everywhere).json()
    assert unpriced["charges"][0]["reason"] == "the clinic has no fee schedule"
    assert (unpriced["balance_minor"], unpriced["currency"]) == (0, None)

    # The RPC twin answers the same, and keeps tenancy.
    with ServiceRpcProxy("billing", {"AMQP_URI": billing.amqp_uri}) as rpc:
        assert rpc.balance(BILLING, client_id) == body
        with pytest.raises(RemoteError) as raised:
            rpc.balance(token(org="org-2", clinics=["*"]), client_id)
        assert raised.value.exc_type == "NotFound"

    # Read models are derived only from events: a rebuild reproduces them.
    store = billing.application.store
    projection = store.projection
    with store.read() as conn:
        before = projection.snapshot(conn)
    assert len(before["charges"]) == 6 and len(before["client_balances"]) == 2
    assert rebuild(store) == len(store.read_all())
    with store.read() as conn:
        assert projection.snapshot(conn) == before


def test_tokens_tenancy_and_roles(billing):
    api = billing.api
    assert api.put("/clinics/clinic-1/fee-schedule", SCHEDULE, bearer="").status_code == 401
    assert api.get("/charges", params={"clinic_id": "clinic-1"}, bearer="").status_code == 401
    other_clinic = token(role="billing", clinics=["clinic-2"])
    assert api.put("/clinics/clinic-1/fee-schedule", SCHEDULE,
                   bearer=other_clinic).status_code == 403
    assert api.get("/charges", params={"clinic_id": "clinic-1"},
                   bearer=other_clinic).status_code == 403
    assert api.put("/clinics/clinic-1/fee-schedule", SCHEDULE).status_code == 403  # clinician
    assert api.put("/clinics/clinic-1/fee-schedule", SCHEDULE, bearer=BILLING).status_code == 200

    client_id = str(uuid.uuid4())
    assert balance(billing, client_id).status_code == 404  # no charges at all
    known(billing, client_id)
    publish_event(billing.amqp_uri, session_held(client_id, minutes=40))
    wait_for_charges(billing, client_id, 1)
    assert balance(billing, client_id, bearer=token(org="org-2", clinics=["*"])).status_code == 404
    assert balance(billing, client_id, bearer=other_clinic).status_code == 404
    assert balance(billing, client_id, bearer="").status_code == 401
    for role in ("admin", "billing", "front_desk", "clinician"):
        assert balance(billing, client_id, bearer=token(role=role)).status_code == 200, role
    assert balance(billing, client_id, bearer=token(role="integrator")).status_code == 403
    assert api.get("/charges", params={"clinic_id": "clinic-1"}).status_code == 403  # clinician
    assert api.get("/clients/not-a-uuid/balance", bearer=BILLING).status_code == 404


@pytest.mark.parametrize("payload, field", [
    ({**SCHEDULE, "currency": "US"}, "currency"),
    ({"prices": SCHEDULE["prices"]}, "currency"),
    ({"currency": "USD", "prices": {"90832": -100}}, "prices"),
    ({"currency": "USD", "prices": {"90832": 90.5}}, "prices"),
    ({"currency": "USD", "prices": {"90832": "9000"}}, "prices"),
    ({"currency": "USD", "prices": {}}, "prices"),
])
def test_bad_fee_schedule_names_the_field_and_stores_nothing(billing, payload, field):
    api = billing.api
    response = api.put("/clinics/clinic-1/fee-schedule", payload, bearer=BILLING)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert api.put("/clinics/clinic-1/fee-schedule", data="{", bearer=BILLING,
                   headers={"Content-Type": "application/json"}).status_code == 400
    assert api.get("/clinics/clinic-1/fee-schedule", bearer=BILLING).status_code == 404
    assert billing.application.store.read_all() == []


def test_invalid_session_held_is_dead_lettered_and_charges_nothing(billing):
    client_id = str(uuid.uuid4())
    bad = session_held(client_id)
    bad = bad.with_data({**bad.data, "minutes": "lots"})
    publish_event(billing.amqp_uri, bad)
    dead_letters = f"{HANDLER_QUEUE}.dead-letter"
    with Connection(billing.amqp_uri) as connection:
        queue = Queue(dead_letters, exchange=Exchange(""), routing_key=dead_letters,
                      durable=True)(connection.default_channel)
        message = wait_until(lambda: queue.get(no_ack=False), message="the dead letter")
        assert message.properties["message_id"] == bad.id
        assert message.headers["x-praxis-error"].startswith("InvalidEvent")
        assert message.headers["x-praxis-attempts"] == 1  # permanent: never retried
        message.requeue()
    assert balance(billing, client_id).status_code == 404
    with billing.application.store.read() as conn:
        assert conn.execute(select(events_table)).all() == []
    # A valid one after it is still charged: the consumer is not stuck.
    good = session_held(client_id, minutes=20)
    known(billing, client_id)
    publish_event(billing.amqp_uri, good)
    assert wait_for_charges(billing, client_id, 1)["charges"][0]["code"] == "90832"
