"""A nameko event handler that never drops an event, and the handlers of a
service's subscription table.

A service consumes each producer's events from one durable queue,
"evt-<producer>--<service>", bound to every event that producer publishes (not
only those it takes, shared/subscriptions.py), so per stream it sees every
published version and can tell a gap from an event it does not take; they arrive
in the order the producer published them; the queue has a single active consumer
and each handler takes one delivery at a time. An event that still finds its
predecessor missing (overtaken while that one waited in the retry queue, or lost)
is held in the store until it comes (shared/deferred.py); a timer dead-letters one
held past PRAXIS_GAP_WAIT_SECONDS with the reason "gap".

nameko's @event_handler acks a message whose handler raised, so the event is
lost. This one sends a failed delivery to "<queue>.retrying", where the copy
expires after PRAXIS_RETRY_DELAY_MS and is dead-lettered back to the handler's
queue; after
`PRAXIS_MAX_ATTEMPTS` attempts (or at once for an event no schema accepts) it
parks the delivery in "<queue>.dead-letter" for an operator to inspect and
replay (shared/dead_letters.py). The original is acked only after the broker
confirmed the copy, so a crash in between duplicates, never loses.

Made to run as a broker user that may write only to its own service's
exchanges and queues (shared/broker_identity.py): the producer's exchange is
declared passively (no configure permission on it; the producer declares it),
copies go through the service's own "<service>.redelivery" exchange (never the
default exchange, whose write permission would reach every queue), and a
delivery whose CloudEvents source is not the exchange's owner is refused.

A database or broker that is away (shared/faults.py) is no fault of the event:
the delivery goes back to its queue uncounted and the handler pauses with
backoff, for as long as it takes. kombu would ack and drop a body it cannot
decode; here the raw body reaches Praxis, which dead-letters it with a reason.
"""
import inspect
import json
import logging
import time
import traceback
from datetime import datetime, timezone
from functools import partial


from amqp.exceptions import AccessRefused, NotFound
from kombu import Exchange, Queue, binding
from kombu.pools import producers
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.messaging import Consumer, QueueConsumer
from nameko.timer import timer

from . import metrics
from .config import amqp_connection as Connection
from .config import queue_type as configured_queue_type
from .envelope import CONTENT_TYPE, binding_key, parse_type
from .errors import InvalidEvent
from .events import catalogue
from .faults import BROKER_ERRORS, Backoff, is_transient, what_is_away

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-praxis-attempts"
REASON_HEADER = "x-praxis-reason"

# How often a service looks for events held past PRAXIS_GAP_WAIT_SECONDS: one indexed
# query of a table that is empty unless a stream has a gap.
GAP_SWEEP_SECONDS = 1.0


def subscription_queue_name(producer, service):
    """The one queue `service` consumes `producer`'s events from."""
    return f"evt-{producer}--{service}"


def handler_queues(service_class):
    """The queue of every reliable event handler a service class declares."""
    queues = []
    for _name, method in inspect.getmembers(service_class, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ReliableEventHandler):
                queues.append(subscription_queue_name(entrypoint.source_service,
                                                      service_class.name))
    return sorted(queues)


def subscribers(subscriptions):
    """A mixin for a service class: one reliable event handler per producer of the
    subscription table, each handing every event that producer publishes to the
    application's consume, and the timer that dead-letters events held too long
    for a gap."""
    handlers = {}
    for producer in subscriptions.producers():
        def consume(self, event):
            self.praxis.consume(event)
        consume.__name__ = consume.__qualname__ = f"consume_{producer}_events"
        handlers[consume.__name__] = event_handler(
            producer, catalogue.published_names(producer))(consume)

    @timer(interval=GAP_SWEEP_SECONDS)
    def dead_letter_gaps(self):
        try:
            self.praxis.dead_letter_gaps(partial(park_gap, self.praxis.amqp_uri, self.name))
        except Exception as exc:
            if not is_transient(exc):
                raise
            # Nothing was released: the next sweep after the outage does it.
            log.warning("gap sweep put off: the %s is away", what_is_away(exc))
    handlers["dead_letter_gaps"] = dead_letter_gaps
    return type("Subscribers", (), handlers)


def park_gap(amqp_uri, service, producer, envelope, detail):
    """Dead-letter an event held too long for its predecessor, as the handler of
    its queue would have: same queue, headers and counters, reason "gap"."""
    queue_name = subscription_queue_name(producer, service)
    target = dead_letter_queue(queue_name)
    body = json.loads(envelope)
    publish(amqp_uri, envelope.encode("utf-8"), target.name, {
        ATTEMPTS_HEADER: 1, REASON_HEADER: "gap", "x-praxis-error": detail[:1000],
        "x-praxis-original-queue": queue_name,
        "x-praxis-failed-at": datetime.now(timezone.utc).isoformat(),
    }, declare=[target], content_type=CONTENT_TYPE, content_encoding="utf-8",
        message_id=body["id"], correlation_id=body.get("correlationid"), type=body["type"])
    metrics.DEAD_LETTERED.labels(service, parse_type(body["type"])[1]).inc()


def events_exchange(service, passive=False):
    return Exchange(f"{service}.events", type="topic", durable=True, passive=passive)


def redelivery_exchange(service):
    """The service's own direct exchange into its retry, dead-letter and handler
    queues (routing key: the queue's name)."""
    return Exchange(f"{service}.redelivery", type="direct", durable=True)


def consuming_service(queue_name):
    """'billing' of 'evt-scheduling--billing' (and of its .retrying, .dead-letter)."""
    return queue_name.split("--", 1)[1].split(".", 1)[0]


def durability(queue_type=None):
    """The queue arguments of PRAXIS_QUEUE_TYPE (shared/config.py): none for a
    classic queue (as earlier releases declared them, so their queues still match),
    x-queue-type for a quorum queue, replicated over the broker's nodes."""
    queue_type = queue_type or configured_queue_type()
    return {} if queue_type == "classic" else {"x-queue-type": queue_type}


def subscription_arguments(queue_type=None):
    """A subscription queue's arguments: one consumer at a time (the others, other
    replicas, stand by), so the producer's order is the order of application."""
    return {**durability(queue_type), "x-single-active-consumer": True}


def subscription_queue(producer, service, event_names, queue_type=None):
    """The service's queue of `producer`'s events, bound to each name it takes (of
    every organisation)."""
    source = events_exchange(producer, passive=True)
    return Queue(subscription_queue_name(producer, service), durable=True,
                 bindings=[binding(source, routing_key=binding_key(name))
                           for name in event_names],
                 queue_arguments=subscription_arguments(queue_type))


def retry_queue(queue_name, queue_type=None):
    """Where a failed delivery waits: each copy expires after the retry delay (a
    per-message TTL, so changing the delay never clashes with the declared queue)
    and is dead-lettered back to the handler's queue through the service's
    redelivery exchange (RabbitMQ wants write permission on a queue's dead-letter
    exchange, and nobody may write to the default one). Earlier releases used
    "<queue>.retry" with the default exchange; those drain by themselves.

    A quorum retry queue (RabbitMQ 3.10+ expires per-message TTLs there too)
    dead-letters at least once: the copy leaves it only once the handler's queue
    confirmed it (RabbitMQ's default for quorum queues is at most once, which
    drops it if that fails; at-least-once needs overflow reject-publish)."""
    name = f"{queue_name}.retrying"
    exchange = redelivery_exchange(consuming_service(queue_name))
    arguments = durability(queue_type)
    if arguments.get("x-queue-type") == "quorum":
        arguments.update({"x-dead-letter-strategy": "at-least-once",
                          "x-overflow": "reject-publish"})
    return Queue(name, exchange=exchange, routing_key=name, durable=True, queue_arguments={
        "x-dead-letter-exchange": exchange.name,
        "x-dead-letter-routing-key": queue_name, **arguments})


def dead_letter_queue(queue_name, queue_type=None):
    name = f"{queue_name}.dead-letter"
    return Queue(name, exchange=redelivery_exchange(consuming_service(queue_name)),
                 routing_key=name, durable=True, queue_arguments=durability(queue_type))


def replay_route(queue_name, queue_type=None):
    """The handler queue's binding to its service's redelivery exchange."""
    return Queue(queue_name, exchange=redelivery_exchange(consuming_service(queue_name)),
                 routing_key=queue_name, durable=True,
                 queue_arguments=subscription_arguments(queue_type))


def publish_copy(amqp_uri, message, queue_name, headers, declare=(), expiration=None):
    """Publish the delivery's raw body to one of the consuming service's queues (via
    its redelivery exchange) and wait for the broker's confirm."""
    publish(amqp_uri, message.body, queue_name, headers, declare, expiration,
            content_type=message.content_type, content_encoding=message.content_encoding,
            message_id=message.properties.get("message_id"),
            correlation_id=message.properties.get("correlation_id"),
            type=message.properties.get("type"))


def publish(amqp_uri, body, queue_name, headers, declare=(), expiration=None, **properties):
    """Publish `body` to one of the consuming service's queues (via its redelivery
    exchange) and wait for the broker's confirm."""
    exchange = redelivery_exchange(consuming_service(queue_name))
    connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
    with producers[connection].acquire(block=True, timeout=10) as producer:
        producer.publish(
            body, exchange=exchange, routing_key=queue_name, declare=[exchange, *declare],
            headers=headers, delivery_mode=2, retry=True, expiration=expiration,
            retry_policy={"max_retries": 3}, **properties)


def wait_for_exchange(amqp_uri, exchange, interval=1.0):
    """Return once `exchange` exists. A passive declare needs no permission; when
    it is missing, declare it if this user may (a development broker), else wait
    for its owner to start and declare it."""
    waited = 0.0
    with Connection(amqp_uri) as connection:
        while True:
            for passive in (True, False):
                channel = connection.channel()
                try:
                    exchange(channel).declare(passive=passive)
                    channel.close()
                    return
                except (NotFound, AccessRefused):  # the broker closed the channel
                    pass
            if waited % 30 == 0:
                log.warning("waiting for exchange %s: its service declares it when it "
                            "starts", exchange.name)
            time.sleep(interval)
            waited += interval


# What a Praxis producer sends; anything else is dead-lettered, never decoded by kombu
# (whose accept list would let it ack and drop the delivery).
ACCEPTED_CONTENT_TYPES = (CONTENT_TYPE, "application/json")


def _name_of(message):
    """The event name a delivery claims, by its AMQP type or its envelope ('unknown'
    when neither says), for the metrics' type label."""
    envelope = decode(message)[0] or {}
    for claimed in (message.properties.get("type"), envelope.get("type")):
        try:
            return parse_type(claimed if isinstance(claimed, str) else "")[1]
        except ValueError:
            continue
    return "unknown"


def decode(message):
    """(envelope dict, None) or (None, (reason, detail)) for one raw delivery."""
    content_type = (message.content_type or "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_CONTENT_TYPES:
        return None, ("content_type", f"content type {message.content_type!r} is not "
                                      f"one of {', '.join(ACCEPTED_CONTENT_TYPES)}")
    encoding = (message.content_encoding or "utf-8").lower()
    try:
        body = message.body
        text = body.decode(encoding) if isinstance(body, bytes) else body
        envelope = json.loads(text)
    except (LookupError, ValueError) as exc:  # unknown codec, bad bytes, not JSON
        return None, ("undecodable", f"body is not JSON in {encoding}: {exc}")
    if not isinstance(envelope, dict):
        return None, ("undecodable", f"body is a JSON {type(envelope).__name__}, not an "
                                     "event envelope (an object)")
    return envelope, None


class SettlingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, surviving acks and requeues on a lost connection
    (nameko catches only amqp's ConnectionError; a reset killed the service)."""

    def _settle(self, message, how):
        # The connection is gone: the broker requeues the unacked delivery itself,
        # and its redelivery is a duplicate the idempotent consumer ignores.
        if not message.channel.connection:
            return
        try:
            getattr(message, how)()
        except (OSError, *BROKER_ERRORS) as exc:
            log.warning("could not %s a delivery (the broker will redeliver it): %s",
                        how, exc)

    def ack_message(self, message):
        self._settle(message, "ack")

    def requeue_message(self, message):
        self._settle(message, "requeue")


class RawQueueConsumer(SettlingQueueConsumer):
    """The queue consumer of Praxis event handlers (its own connection): hands each
    provider the undecoded message."""

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            consumer = consumer_cls(queues=[provider.queue], accept=self.accept,
                                    on_message=partial(self._raw, provider),
                                    on_decode_error=partial(self._undecodable, provider))
            # One delivery at a time: the next waits until this one is settled, so
            # the queue's order is the order of application.
            consumer.qos(prefetch_count=1)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def _raw(self, provider, message):
        self.handle_message(provider, None, message)

    def _undecodable(self, provider, message, exc):
        # kombu could not even unpack it (a compression that fails): kombu's default
        # acks and drops it; Praxis dead-letters it.
        self.container.spawn_managed_thread(partial(
            provider.refuse, message, "undecodable",
            f"kombu could not unpack the body: {type(exc).__name__}: {exc}"))


class ReliableEventHandler(Consumer):
    """Consumes `event_names` (every event it publishes) of `source_service` from the
    service's one queue of that producer."""
    queue_consumer = RawQueueConsumer()

    def __init__(self, source_service, event_names, **kwargs):
        self.source_service = source_service
        self.event_names = tuple(event_names)
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        config = self.container.config
        self.amqp_uri = config[AMQP_URI_CONFIG_KEY]
        self.max_attempts = int(config.get("PRAXIS_MAX_ATTEMPTS", 5))
        self.retry_delay_seconds = int(config.get("PRAXIS_RETRY_DELAY_MS", 1000)) / 1000
        self.backoff = Backoff()
        queue_type = config.get("PRAXIS_QUEUE_TYPE") or configured_queue_type()
        # Passive on the producer's exchange: this service has no configure
        # permission there.
        source = events_exchange(self.source_service, passive=True)
        self.queue = subscription_queue(self.source_service, self.container.service_name,
                                        self.event_names, queue_type)
        self.redelivery = redelivery_exchange(self.container.service_name)
        self.replay_route = replay_route(self.queue.name, queue_type)
        self.retry_queue = retry_queue(self.queue.name, queue_type)
        self.dead_letter_queue = dead_letter_queue(self.queue.name, queue_type)
        wait_for_exchange(self.amqp_uri, source)
        with Connection(self.amqp_uri) as connection:
            channel = connection.default_channel
            # Bound before the service answers /readyz: on a first start, events
            # published from then on are kept for this handler, not routed nowhere.
            self.queue(channel).declare()
            self.replay_route(channel).declare()
            self.retry_queue(channel).declare()
            self.dead_letter_queue(channel).declare()
        super().setup()  # registers with the queue consumer, which starts consuming

    def refusal(self, body, message):
        """Why a delivery must not be applied, or None. Its exchange says who sent
        it (only that service's user may write there); the envelope must agree."""
        exchange = message.delivery_info.get("exchange", "")
        if exchange in ("", self.redelivery.name):
            # This service's own retry or replay (or a retry queue of an earlier
            # release, through the default exchange): checked on its first delivery.
            owner = self.source_service
        elif exchange.endswith(".events"):
            owner = exchange[:-len(".events")]
        else:
            owner = None
        envelope = body if isinstance(body, dict) else {}
        source, type_ = envelope.get("source"), envelope.get("type")
        try:
            producer = parse_type(type_ or "")[0]
        except ValueError:
            producer = None
        if owner != self.source_service or source != f"/praxis/{owner}" or producer != owner:
            return ("source_mismatch", f"source {source!r} (type {type_!r}) does not match "
                                       f"exchange {exchange!r}")
        return None

    def handle_message(self, body, message):
        # Not in a worker: a pause for an absent database holds no worker slot.
        self.backoff.wait()
        body, refused = decode(message)
        if refused is None:
            refused = self.refusal(body, message)
        if refused is None:
            super().handle_message(body, message)
            return
        self.refuse(message, *refused)

    def refuse(self, message, reason, detail):
        """Dead-letter a delivery unapplied, with the reason, and count it."""
        metrics.EVENTS_REFUSED.labels(self.container.service_name, reason).inc()
        log.error("event refused on %s: %s", self.queue.name, detail)
        self.park(message, self.dead_letter_queue, f"refused ({reason}): {detail}")

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.backoff.succeeded()
            self.queue_consumer.ack_message(message)
            return
        error = exc_info[1]
        if is_transient(error):
            # Infrastructure, not the event: back to the queue uncounted, in place.
            away = what_is_away(error)
            delay = self.backoff.failed(away)
            metrics.HANDLER_WAITS.labels(self.container.service_name, away).inc()
            log.warning("%s away while handling on %s; redelivering after %.1fs (not "
                        "counted as an attempt): %s: %s", away, self.queue.name, delay,
                        type(error).__name__, error)
            self.queue_consumer.requeue_message(message)
            return
        permanent = isinstance(error, InvalidEvent)
        attempts = int((message.headers or {}).get(ATTEMPTS_HEADER, 0)) + 1
        target = (self.dead_letter_queue if permanent or attempts >= self.max_attempts
                  else self.retry_queue)
        self.park(message, target, f"{type(error).__name__}: {error}",
                  "".join(traceback.format_exception(*exc_info)))

    def park(self, message, target, error, trace=""):
        """Copy a delivery to its retry or dead-letter queue, then ack it."""
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        headers[ATTEMPTS_HEADER] = attempts
        service = self.container.service_name
        name = _name_of(message)
        if target is self.dead_letter_queue:
            headers.update({
                "x-praxis-error": error[:1000],
                "x-praxis-traceback": trace[-4000:],
                "x-praxis-original-queue": self.queue.name,
                "x-praxis-failed-at": datetime.now(timezone.utc).isoformat(),
            })
        try:
            publish_copy(self.amqp_uri, message, target.name, headers, declare=[target],
                         expiration=(self.retry_delay_seconds
                                     if target is self.retry_queue else None))
        except Exception as exc:
            # Uncounted; the backoff keeps its redelivery from spinning while away.
            delay = self.backoff.failed("broker")
            log.warning("could not park a failed delivery on %s (%s); requeueing it, "
                        "next delivery in %.1fs", self.queue.name, exc, delay)
            self.queue_consumer.requeue_message(message)
            return
        if target is self.dead_letter_queue:
            metrics.DEAD_LETTERED.labels(service, name).inc()
            log.error("event dead-lettered after %d attempt(s) on %s: %s",
                      attempts, self.queue.name, error)
        else:
            metrics.HANDLER_RETRIES.labels(service, name).inc()
            log.warning("event handling failed (attempt %d of %d) on %s: %s",
                        attempts, self.max_attempts, self.queue.name, error)
        self.queue_consumer.ack_message(message)


event_handler = ReliableEventHandler.decorator
