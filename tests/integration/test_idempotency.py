"""Idempotency-Key (shared/idempotency.py) against a real broker and both databases:
a retried POST answers its first result and stores nothing new."""
import json
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from services.billing.service import Service as Billing
from services.intake.service import Service as Intake
from services.scheduling.service import Service as Scheduling
from shared import idempotency
from shared.audit import audit_trail, timestamp
from shared.events import catalogue
from shared.idempotency import idempotency_keys
from shared.store import EventStore
from shared.timeutil import iso, utc_now
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

BILLING = token(role="billing", user="biller-1")
PAYMENT = {"amount_minor": 5000, "currency": "USD", "method": "card", "reference": "r-1"}
CLIENT = {"organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada Lovelace",
          "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
          "primary_clinician_id": "user-1"}


def keyed(key):
    return {idempotency.HEADER: key}


def names(running, name):
    return [e for _, e in running.application.store.read_all() if e.name == name]


def key_rows(running):
    with running.application.store.read() as conn:
        return conn.execute(select(idempotency_keys)).all()


# -- billing -------------------------------------------------------------------
def start_billing(database_url, amqp_uri, **overrides):
    running = RunningService(Billing, database_url, amqp_uri, **overrides)
    running.amqp_uri = amqp_uri
    return running


@pytest.fixture
def billing(database_url, amqp_uri):
    with start_billing(database_url, amqp_uri) as running:
        assert running.api.put("/clinics/clinic-1/fee-schedule", {
            "currency": "USD", "prices": {"90834": 12000}}, bearer=BILLING).status_code == 200
        yield running


def register_with_billing(billing, client_id=None):
    client_id = client_id or str(uuid.uuid4())
    publish_event(billing.amqp_uri, make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org"}, "registered_at": "2026-01-05T09:00:00Z"},
        subject=f"client-{client_id}"))
    wait_until(lambda: billing.api.get(f"/clients/{client_id}/ledger",
                                       bearer=BILLING).status_code == 200,
               message="client known to billing")
    return client_id


def pay(billing, client_id, key=None, body=PAYMENT, bearer=BILLING):
    return billing.api.post(f"/clients/{client_id}/payments", body, bearer=bearer,
                            headers=keyed(key) if key else {})


def credit(billing, client_id):
    balance = billing.api.get(f"/clients/{client_id}/balance", bearer=BILLING)
    return 0 if balance.status_code == 404 else balance.json()["credit_minor"]


def test_a_retried_payment_is_recorded_once_and_answered_the_same(billing):
    client_id = register_with_billing(billing)
    first = pay(billing, client_id, key="pay-1")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = pay(billing, client_id, key="pay-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    # The same object serialised another way is the same request.
    reordered = json.dumps(dict(reversed(list(PAYMENT.items()))), indent=2)
    assert billing.api.request("POST", f"/clients/{client_id}/payments", bearer=BILLING,
                               data=reordered, headers=keyed("pay-1")).json() == first.json()
    assert [e.data["payment_id"] for e in names(billing, "PaymentReceived")] == \
        [first.json()["payment_id"]]
    assert credit(billing, client_id) == 5000

    # Without the header nothing changes: each POST is a payment.
    assert pay(billing, client_id).status_code == 201
    assert pay(billing, client_id).status_code == 201
    assert len(names(billing, "PaymentReceived")) == 3 and credit(billing, client_id) == 15000

    # A replay is an access like any other: its audit row says so.
    with billing.application.store.read() as conn:
        rows = conn.execute(select(audit_trail.c.status, audit_trail.c.client_id).where(
            audit_trail.c.route == "POST /clients/<uuid:client_id>/payments")).all()
    assert [tuple(r) for r in rows][:3] == [(None, client_id), (201, client_id),
                                            (201, client_id)]


def test_the_same_key_with_another_request_is_422_and_stores_nothing(billing):
    client_id, other_client = register_with_billing(billing), register_with_billing(billing)
    first = pay(billing, client_id, key="pay-2")
    assert first.status_code == 201, first.text
    for response in (pay(billing, client_id, key="pay-2", body={**PAYMENT, "amount_minor": 5001}),
                     pay(billing, other_client, key="pay-2")):  # another path is another request
        assert response.status_code == 422, response.text
        assert list(response.json()["fields"]) == ["Idempotency-Key"]
    assert len(names(billing, "PaymentReceived")) == 1
    assert (credit(billing, client_id), credit(billing, other_client)) == (5000, 0)
    # The first answer is still the key's.
    assert pay(billing, client_id, key="pay-2").json() == first.json()


def test_keys_are_the_callers_own(billing):
    client_id = register_with_billing(billing)
    mine = pay(billing, client_id, key="shared-key")
    theirs = pay(billing, client_id, key="shared-key",
                 bearer=token(role="billing", user="biller-2"))
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["payment_id"] != theirs.json()["payment_id"]
    assert credit(billing, client_id) == 10000
    # The same key on another route is another key too.
    refund = billing.api.post(f"/clients/{client_id}/refunds", {
        "amount_minor": 1000, "currency": "USD", "method": "card", "reason": "asked"},
        bearer=BILLING, headers=keyed("shared-key"))
    assert refund.status_code == 201, refund.text


def test_a_failed_request_keeps_no_key_so_its_retry_executes(billing):
    client_id = str(uuid.uuid4())
    unknown = pay(billing, client_id, key="pay-3")
    assert unknown.status_code == 404
    assert key_rows(billing) == []
    register_with_billing(billing, client_id)
    retried = pay(billing, client_id, key="pay-3")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert credit(billing, client_id) == 5000


@pytest.mark.parametrize("key", ["", "k" * 256, "caf\u00e9", "tab\x7f"])
def test_a_key_must_be_1_to_255_printable_ascii(billing, key):
    client_id = register_with_billing(billing)
    response = billing.api.request(
        "POST", f"/clients/{client_id}/payments", bearer=BILLING, data=json.dumps(PAYMENT),
        headers={idempotency.HEADER: key.encode("latin-1")})
    assert response.status_code == 422, response.text
    assert list(response.json()["fields"]) == ["Idempotency-Key"]
    assert names(billing, "PaymentReceived") == [] and key_rows(billing) == []
    assert pay(billing, client_id, key="k" * 255).status_code == 201


def test_concurrent_retries_take_effect_once(billing):
    client_id = register_with_billing(billing)
    start, answers = threading.Barrier(2), []

    def send():
        start.wait()
        answers.append(pay(billing, client_id, key="pay-concurrent"))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [r for r in answers if r.status_code == 201]
    assert created, [r.text for r in answers]
    for response in answers:  # the other waited and answers the same, or is told to wait
        assert response.status_code in (201, 409), response.text
        if response.status_code == 201:
            assert response.json() == created[0].json()
        else:
            assert response.json()["error"] == "idempotency_key_in_progress"
    assert len(names(billing, "PaymentReceived")) == 1 and credit(billing, client_id) == 5000


def test_a_twin_past_the_first_check_answers_the_first_result(billing, monkeypatch):
    """The second request finds no key before its handler (the first has not committed);
    its unit of work waits on the first's key row and then answers the first's result."""
    client_id = register_with_billing(billing)
    claim, claimed, release, entered = idempotency.claim, threading.Event(), threading.Event(), []

    def held_claim(store, conn):
        keyed = claim(store, conn)
        if keyed is not None and not claimed.is_set():
            claimed.set()
            release.wait()  # the first request's transaction stays open
        return keyed

    receive = billing.application.receive_payment

    def entering(*args, **kwargs):
        entered.append(True)
        return receive(*args, **kwargs)

    monkeypatch.setattr(idempotency, "claim", held_claim)
    monkeypatch.setattr(billing.application, "receive_payment", entering)
    answers = {}

    def send(name):
        answers[name] = pay(billing, client_id, key="pay-twin")

    first = threading.Thread(target=send, args=("first",))
    first.start()
    claimed.wait()
    second = threading.Thread(target=send, args=("second",))
    second.start()
    wait_until(lambda: len(entered) == 2, message="the twin's handler to run")
    if not billing.application.store.is_sqlite:
        wait_until(lambda: _waiting_on_a_lock(billing.settings.database_url),
                   message="the twin to wait on the key row")
    release.set()
    first.join()
    second.join()
    assert answers["first"].status_code == 201, answers["first"].text
    assert (answers["second"].status_code, answers["second"].json()) == \
        (201, answers["first"].json())
    assert answers["second"].headers["Idempotent-Replayed"] == "true"
    assert len(names(billing, "PaymentReceived")) == 1 and credit(billing, client_id) == 5000


def test_a_key_holds_across_a_restart(database_url, amqp_uri):
    with start_billing(database_url, amqp_uri) as first_instance:
        assert first_instance.api.put("/clinics/clinic-1/fee-schedule", {
            "currency": "USD", "prices": {"90834": 12000}}, bearer=BILLING).status_code == 200
        client_id = register_with_billing(first_instance)
        first = pay(first_instance, client_id, key="pay-restart")
        assert first.status_code == 201, first.text
    with start_billing(database_url, amqp_uri) as second_instance:
        again = pay(second_instance, client_id, key="pay-restart")
        assert (again.status_code, again.json()) == (201, first.json())
        assert len(names(second_instance, "PaymentReceived")) == 1
        assert credit(second_instance, client_id) == 5000


def test_an_effect_without_its_kept_answer_is_409_never_repeated(billing):
    """The process died between the command's commit and keeping its answer."""
    client_id = register_with_billing(billing)
    assert pay(billing, client_id, key="pay-lost").status_code == 201
    with billing.application.store.write() as conn:
        conn.execute(update(idempotency_keys).values(
            status=None, body=None, content_type=None,
            created_at=timestamp(utc_now() - timedelta(minutes=5))))
    lost = pay(billing, client_id, key="pay-lost")
    assert lost.status_code == 409 and lost.json()["error"] == "idempotency_key_in_progress"
    assert list(lost.json()["fields"]) == ["Idempotency-Key"]
    assert len(names(billing, "PaymentReceived")) == 1


def test_expired_keys_are_reusable_and_purged(billing, monkeypatch):
    monkeypatch.setattr(idempotency, "PURGE_EVERY", timedelta(0))
    client_id = register_with_billing(billing)
    assert pay(billing, client_id, key="old-1").status_code == 201
    assert pay(billing, client_id, key="old-2").status_code == 201
    with billing.application.store.write() as conn:  # both kept longer than 24 hours ago
        conn.execute(update(idempotency_keys).values(
            created_at=timestamp(utc_now() - timedelta(hours=25))))
    reused = pay(billing, client_id, key="old-1")
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused.headers
    assert len(names(billing, "PaymentReceived")) == 3
    # Keeping reused's answer purged the expired row of old-2.
    assert [row.key for row in key_rows(billing)] == ["old-1"]


def test_retention_is_configurable(database_url, amqp_uri):
    with start_billing(database_url, amqp_uri, PRAXIS_IDEMPOTENCY_HOURS="0.5") as running:
        client_id = register_with_billing(running)
        assert pay(running, client_id, key="short").status_code == 201
        with running.application.store.write() as conn:
            conn.execute(update(idempotency_keys).values(
                created_at=timestamp(utc_now() - timedelta(minutes=31))))
        assert "Idempotent-Replayed" not in pay(running, client_id, key="short").headers
        assert len(names(running, "PaymentReceived")) == 2


# -- the unit of work's claim, two threads on one store ------------------------------
def _waiting_on_a_lock(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("first_commits", [True, False])
def test_a_concurrent_twin_waits_for_the_first_transaction(database_url, first_commits):
    store = EventStore(database_url, "billing", catalogue)
    store.create_schema()

    def twin():
        return idempotency.Keyed("twin-key", "org-1", "biller-1", "POST /x", "same-hash",
                                 timedelta(hours=24), store)

    claimed, release, outcome = threading.Event(), threading.Event(), []

    def first():
        idempotency.bind(twin())
        try:
            with store.unit_of_work():
                claimed.set()
                release.wait()
                if not first_commits:
                    raise RuntimeError("the first request fails")
            outcome.append("first committed")
        except RuntimeError:
            outcome.append("first rolled back")

    def second():
        idempotency.bind(twin())
        try:
            with store.unit_of_work():
                outcome.append("second executes")
        except idempotency.KeyTaken:
            outcome.append("second answers the first's result")

    one = threading.Thread(target=first)
    one.start()
    claimed.wait()
    two = threading.Thread(target=second)
    two.start()
    if not store.is_sqlite:  # its insert waits on the first's uncommitted key row
        wait_until(lambda: _waiting_on_a_lock(database_url), message="the twin to wait")
    release.set()
    one.join()
    two.join()
    store.engine.dispose()
    # (Either thread may report first once the first transaction has ended.)
    if first_commits:
        assert sorted(outcome) == ["first committed", "second answers the first's result"]
    else:
        assert sorted(outcome) == ["first rolled back", "second executes"]


# -- intake and scheduling ---------------------------------------------------------------
def test_a_retried_registration_and_assessment_happen_once(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as intake:
        api = intake.api
        first = api.post("/clients", CLIENT, headers=keyed("register-1"))
        assert first.status_code == 201, first.text
        again = api.post("/clients", CLIENT, headers=keyed("register-1"))
        assert (again.status_code, again.json()) == (201, first.json())
        assert len(names(intake, "ClientRegistered")) == 1
        client_id = first.json()["client_id"]

        # Another organisation's user with the same key and body: their own client.
        other = token(org="org-2", user="user-1")
        theirs = api.post("/clients", {**CLIENT, "organisation_id": "org-2"}, bearer=other,
                          headers=keyed("register-1"))
        assert theirs.status_code == 201 and theirs.json()["client_id"] != client_id
        assert len(names(intake, "ClientRegistered")) == 2

        answers = {"instrument": "PHQ-9", "answers": [2, 2, 2, 2, 2, 1, 1, 1, 0]}
        assessed = api.post(f"/clients/{client_id}/assessments", answers,
                            headers=keyed("assess-1"))
        assert assessed.status_code == 201, assessed.text
        retried = api.post(f"/clients/{client_id}/assessments", answers,
                           headers=keyed("assess-1"))
        assert retried.json() == assessed.json() and retried.json()["kind"] == "initial"
        assert len(names(intake, "ClientAssessed")) == 1
        assert len(api.get(f"/clients/{client_id}").json()["assessments"]) == 1


def test_a_retried_booking_books_once(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri) as scheduling:
        client_id = str(uuid.uuid4())
        publish_event(amqp_uri, make_event("intake", "ClientRegistered", {
            "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org", "phone": None},
            "registered_at": iso(utc_now())}, subject=f"client-{client_id}"))
        admin = token(role="admin")
        wait_until(lambda: scheduling.api.get(f"/clients/{client_id}/appointments",
                                              bearer=admin).status_code == 200,
                   message="the client to be known to scheduling")
        booking = {"organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
                   "clinician_id": "dr-1", "start": "2024-05-06T09:00:00+02:00",
                   "duration_minutes": 50, "modality": "video"}
        first = scheduling.api.post("/appointments", booking, bearer=admin,
                                    headers=keyed("book-1"))
        assert first.status_code == 201, first.text
        again = scheduling.api.post("/appointments", booking, bearer=admin,
                                    headers=keyed("book-1"))
        # Not a double booking of its own slot: the first answer.
        assert (again.status_code, again.json()) == (201, first.json())
        assert len(names(scheduling, "AppointmentBooked")) == 1
        # A calendar feed's answer carries its secret, which is never kept: no key there.
        feed = scheduling.api.post("/clinicians/dr-1/calendar-feeds", {},
                                   bearer=token(role="clinician", user="dr-1"),
                                   headers=keyed("feed-1"))
        assert feed.status_code == 422 and list(feed.json()["fields"]) == ["Idempotency-Key"]
        # Other methods ignore the header.
        assert scheduling.api.get(f"/appointments/{first.json()['appointment_id']}",
                                  bearer=admin, headers=keyed("")).status_code == 200
