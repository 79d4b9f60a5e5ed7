"""Broker identities on a real RabbitMQ: each service runs as its own user with
the permissions of shared/broker_identity.py, the broker refuses a forged event
from anyone else, a consumer refuses an event its exchange does not vouch for,
and an integrator is confined to its organisation's routing keys."""
import json
import uuid
from dataclasses import replace

import eventlet
import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue
from prometheus_client import REGISTRY

from services.billing.service import Service as Billing
from services.intake.service import Service as Intake
from services.notes.service import Service as Notes
from services.scheduling.service import Service as Scheduling
from shared import broker_identity, dead_letters
from shared.consumer import subscription_queue_name
from shared.envelope import CONTENT_TYPE
from tests.broker_admin import BrokerAdmin
from tests.support import RunningService, make_event, token, wait_until

pytestmark = pytest.mark.integration

CLASSES = {"intake": Intake, "scheduling": Scheduling, "notes": Notes, "billing": Billing}
SESSION_QUEUE = subscription_queue_name("scheduling", "billing")
ADMIN = token(role="admin", clinics=["*"])


@pytest.fixture(scope="module")
def broker(amqp_base_uri):
    """A vhost with a user per service, an integrator of org-1 and one outsider."""
    admin = BrokerAdmin(amqp_base_uri)
    vhost = f"praxis-test-identities-{uuid.uuid4().hex[:8]}"
    suffix = uuid.uuid4().hex[:6]
    admin.add_vhost(vhost)
    users, uris = [], {}

    def user(key, permissions, topic=()):
        name, password = f"{key}-{suffix}", uuid.uuid4().hex
        admin.add_user(name, password)
        users.append(name)
        admin.set_permissions(vhost, name, permissions["configure"], permissions["write"],
                              permissions["read"])
        for grant in topic:
            admin.set_topic_permissions(vhost, name, grant["exchange"], grant["write"],
                                        grant["read"])
        uris[key] = admin.uri(vhost, name, password)

    try:
        for service in broker_identity.SERVICES:
            user(service, broker_identity.service_permissions(service))
        user("integrator", broker_identity.integrator_permissions("org-1"),
             broker_identity.integrator_topic_permissions("org-1"))
        yield uris
    finally:
        admin.delete_vhost(vhost)
        for name in users:
            admin.delete_user(name)


@pytest.fixture(scope="module")
def services(broker, tmp_path_factory):
    """The four real services, each connected as its own broker user."""
    directory = tmp_path_factory.mktemp("identities")
    running = {service: RunningService(cls, f"sqlite:///{directory}/{service}.db",
                                       broker[service]) for service, cls in CLASSES.items()}
    # All at once, as pods start: a consumer waits for its producer's exchange,
    # which only the producer's user may declare (intake and scheduling wait on each other).
    pool = eventlet.GreenPool()
    started = list(pool.imap(lambda service: service.__enter__(), running.values()))
    try:
        yield running
    finally:
        for service in started:
            service.__exit__(None, None, None)


def register_client(intake, org="org-1"):
    response = intake.api.post("/clients", {
        "organisation_id": org, "clinic_id": "clinic-1", "name": "Ada Lovelace",
        "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"}},
        bearer=token(role="admin", org=org, clinics=["*"]))
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


def consumed_ids(running, origin):
    return {e.id for _, e in running.application.store.read_all(origin=origin)}


def session_held(client_id, **envelope):
    event = make_event("scheduling", "SessionHeld", {
        "appointment_id": str(uuid.uuid4()), "client_id": client_id,
        "clinician_id": "clinician-1", "start": "2026-11-02T10:00:00Z", "minutes": 53,
        "modality": "video", "session_type": "individual", "place_of_service": "office",
        "audio_only": False, "session_number": 1}, f"appointment-{uuid.uuid4()}")
    return replace(event, **envelope)


def publish(uri, body, exchange, routing_key, message_id):
    """Publish with confirms, as any client of the broker could."""
    with Connection(uri, transport_options={"confirm_publish": True}) as connection:
        connection.Producer().publish(
            json.dumps(body).encode(), exchange=exchange, routing_key=routing_key,
            content_type=CONTENT_TYPE, content_encoding="utf-8", message_id=message_id,
            delivery_mode=2)


def depth(uri, queue):
    with Connection(uri) as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


def test_each_service_runs_as_its_own_user_and_events_flow(services, broker):
    client_id = register_client(services["intake"])  # intake's relay publishes, as praxis-intake
    (registered,) = [e for _, e in services["intake"].application.store.read_all(origin="intake")
                     if e.name == "ClientRegistered" and e.data["client_id"] == client_id]
    for consumer in ("scheduling", "notes", "billing"):
        wait_until(lambda: registered.id in consumed_ids(services[consumer], "intake"),
                   message=f"{consumer} consumed ClientRegistered as its own user")


def test_the_broker_refuses_a_forged_session_held(services, broker):
    billing = services["billing"]
    client_id = register_client(services["intake"])
    forged = session_held(client_id)
    body = forged.to_dict()
    for intruder in ("notes", "integrator", "billing"):
        with pytest.raises(AccessRefused) as refused:
            publish(broker[intruder], body, "scheduling.events", "org-1.SessionHeld",
                    forged.id)
        assert refused.value.reply_code == 403
    # Nor straight into billing's queue through the default exchange.
    for intruder in ("notes", "scheduling", "integrator"):
        with pytest.raises(AccessRefused):
            publish(broker[intruder], body, "", SESSION_QUEUE, forged.id)
    # Nor by way of billing's own redelivery exchange.
    with pytest.raises(AccessRefused):
        publish(broker["notes"], body, "billing.redelivery", SESSION_QUEUE, forged.id)

    # Scheduling's own user may: billing applies that one, and never saw the forgery.
    genuine = session_held(client_id)
    publish(broker["scheduling"], genuine.to_dict(), "scheduling.events",
            "org-1.SessionHeld", genuine.id)
    wait_until(lambda: genuine.id in consumed_ids(billing, "scheduling"),
               message="billing applied the genuine SessionHeld")
    assert forged.id not in consumed_ids(billing, "scheduling")
    assert depth(broker["billing"], SESSION_QUEUE + ".dead-letter") == 0


def refused_count(service):
    return REGISTRY.get_sample_value("praxis_events_refused_total",
                                     {"service": service, "reason": "source_mismatch"}) or 0


def test_a_consumer_refuses_an_event_its_exchange_does_not_vouch_for(services, broker):
    """Scheduling's user may write to scheduling.events, but not speak for intake."""
    billing = services["billing"]
    client_id = register_client(services["intake"])
    before = refused_count("billing")
    claims_intake = session_held(client_id, source="/praxis/intake")
    wrong_type = session_held(client_id).to_dict()
    wrong_type["type"] = "praxis.intake.ClientRegistered.v1"
    for body, message_id in ((claims_intake.to_dict(), claims_intake.id),
                             (wrong_type, wrong_type["id"])):
        publish(broker["scheduling"], body, "scheduling.events", "org-1.SessionHeld",
                message_id)
    wait_until(lambda: depth(broker["billing"], SESSION_QUEUE + ".dead-letter") == 2,
               message="both dead-lettered")
    assert refused_count("billing") == before + 2
    assert not {claims_intake.id, wrong_type["id"]} & (
        consumed_ids(billing, "scheduling") | consumed_ids(billing, "intake"))
    with Connection(broker["billing"]) as connection:  # read, and clear for the next test
        letters = Queue(SESSION_QUEUE + ".dead-letter")(connection.default_channel)
        for _ in range(2):
            assert "source_mismatch" in letters.get(no_ack=True).headers["x-praxis-error"]


def test_an_integrator_is_confined_to_its_organisation(services, broker):
    uri = broker["integrator"]
    name = "integrator-org-1.feed"
    exchange = Exchange("intake.events", "topic", durable=True, passive=True)
    with Connection(uri) as connection:
        channel = connection.channel()
        feed = Queue(name, exchange=exchange, routing_key="org-1.*", durable=True)(channel)
        feed.declare()  # its own queue, bound to its organisation's keys
        for key in ("org-2.*", "#", "*.ClientRegistered", "*.*"):
            refused_channel = connection.channel()
            with pytest.raises(AccessRefused):
                refused_channel.queue_bind(name, "intake.events", routing_key=key)
        # Another name than its own, or another service's queue: refused too.
        with pytest.raises(AccessRefused):
            connection.channel().queue_declare("praxis-everything", durable=True)
        with pytest.raises(AccessRefused):
            connection.channel().basic_get(SESSION_QUEUE)

    mine = register_client(services["intake"], org="org-1")
    register_client(services["intake"], org="org-2")
    other = register_client(services["intake"], org="org-1")  # after org-2's: order proves it
    received = []

    def got_both():
        with Connection(uri) as connection:
            while (message := Queue(name)(connection.default_channel).get(no_ack=True)):
                received.append(json.loads(message.body))
        return {mine, other} <= {b["data"].get("client_id") for b in received}
    wait_until(got_both, message="org-1's events on the integrator's queue")
    assert {b["organisationid"] for b in received} == {"org-1"}


def test_retry_dead_letter_and_replay_run_as_the_services_own_user(services, broker,
                                                                    monkeypatch):
    """Copies go through billing.redelivery (billing's user may not write to the
    default exchange); a retry comes back and the replayed dead letter applies."""
    billing = services["billing"]
    application = billing.application
    charge = application.charge_session
    failures = {"left": 3}  # PRAXIS_MAX_ATTEMPTS=3 in tests: dead-lettered

    def flaky(*args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("the fee schedule's database hiccuped")
        return charge(*args, **kwargs)
    monkeypatch.setattr(application, "charge_session", flaky)

    client_id = register_client(services["intake"])
    # Billing charges only a client it knows (else the session waits, deferred).
    wait_until(lambda: any(e.name == "ClientRegistered" and e.data["client_id"] == client_id
                           for _, e in application.store.read_all(origin="intake")),
               message="billing knows the client")
    event = session_held(client_id)
    publish(broker["scheduling"], event.to_dict(), "scheduling.events", "org-1.SessionHeld",
            event.id)
    wait_until(lambda: depth(broker["billing"], SESSION_QUEUE + ".dead-letter") == 1,
               message="dead-lettered after three attempts")
    assert failures["left"] == 0 and event.id not in consumed_ids(billing, "scheduling")

    assert dead_letters.replay(broker["billing"], SESSION_QUEUE) == 1
    wait_until(lambda: event.id in consumed_ids(billing, "scheduling"),
               message="the replayed SessionHeld applied")
    backlog = billing.api.get("/metrics", bearer="").text  # queue depths by passive declare
    sample = f'praxis_consumer_queue_messages{{queue="{SESSION_QUEUE}",service="billing"}}'
    assert sample in backlog
