"""A nameko event handler that never drops an event.

nameko's @event_handler acks a message whose handler raised, so the event is
lost. This one sends a failed delivery to "<queue>.retry", where the copy
expires after PRAXIS_RETRY_DELAY_MS and is dead-lettered back to the handler's
queue; after
`PRAXIS_MAX_ATTEMPTS` attempts (or at once for an event no schema accepts) it
parks the delivery in "<queue>.dead-letter" for an operator to inspect and
replay (shared/dead_letters.py). The original is acked only after the broker
confirmed the copy, so a crash in between duplicates, never loses.
"""
import inspect
import logging
import traceback
from datetime import datetime, timezone

from kombu import Connection, Exchange, Queue
from kombu.pools import producers
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import SERVICE_POOL, EventHandler

from . import metrics
from .errors import InvalidEvent

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-praxis-attempts"
DEFAULT_EXCHANGE = Exchange("")


def handler_queue_name(source_service, event_type, service, method):
    """The queue nameko's SERVICE_POOL event handler consumes from."""
    return f"evt-{source_service}-{event_type}--{service}.{method}"


def handler_queues(service_class):
    """The queue of every reliable event handler a service class declares."""
    queues = []
    for method_name, method in inspect.getmembers(service_class, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ReliableEventHandler):
                queues.append(handler_queue_name(entrypoint.source_service,
                                                 entrypoint.event_type, service_class.name,
                                                 method_name))
    return sorted(queues)


def retry_queue(queue_name):
    """Where a failed delivery waits: each copy expires after the retry delay (a
    per-message TTL, so changing the delay never clashes with the declared queue)
    and is dead-lettered back to the handler's queue."""
    return Queue(f"{queue_name}.retry", exchange=DEFAULT_EXCHANGE, routing_key=f"{queue_name}.retry",
                 durable=True, queue_arguments={
                     "x-dead-letter-exchange": "",
                     "x-dead-letter-routing-key": queue_name})


def dead_letter_queue(queue_name):
    return Queue(f"{queue_name}.dead-letter", exchange=DEFAULT_EXCHANGE,
                 routing_key=f"{queue_name}.dead-letter", durable=True)


def publish_copy(amqp_uri, message, queue_name, headers, declare=(), expiration=None):
    """Publish the delivery's raw body to a queue and wait for the broker's confirm."""
    connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
    with producers[connection].acquire(block=True, timeout=10) as producer:
        producer.publish(
            message.body, exchange="", routing_key=queue_name, declare=list(declare),
            content_type=message.content_type, content_encoding=message.content_encoding,
            headers=headers, message_id=message.properties.get("message_id"),
            correlation_id=message.properties.get("correlation_id"),
            type=message.properties.get("type"), delivery_mode=2, retry=True,
            expiration=expiration,
            retry_policy={"max_retries": 3})


class ReliableEventHandler(EventHandler):
    def __init__(self, source_service, event_type, **kwargs):
        super().__init__(source_service, event_type, handler_type=SERVICE_POOL,
                         reliable_delivery=True, requeue_on_error=False, **kwargs)

    def setup(self):
        super().setup()
        config = self.container.config
        self.amqp_uri = config[AMQP_URI_CONFIG_KEY]
        self.max_attempts = int(config.get("PRAXIS_MAX_ATTEMPTS", 5))
        self.retry_delay_seconds = int(config.get("PRAXIS_RETRY_DELAY_MS", 1000)) / 1000
        self.retry_queue = retry_queue(self.queue.name)
        self.dead_letter_queue = dead_letter_queue(self.queue.name)
        with Connection(self.amqp_uri) as connection:
            channel = connection.default_channel
            # Bound before the service answers /readyz: on a first start, events
            # published from then on are kept for this handler, not routed nowhere.
            self.queue(channel).declare()
            self.retry_queue(channel).declare()
            self.dead_letter_queue(channel).declare()

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        error = exc_info[1]
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        headers[ATTEMPTS_HEADER] = attempts
        service = self.container.service_name
        permanent = isinstance(error, InvalidEvent)
        if permanent or attempts >= self.max_attempts:
            target = self.dead_letter_queue
            headers.update({
                "x-praxis-error": f"{type(error).__name__}: {error}"[:1000],
                "x-praxis-traceback": "".join(traceback.format_exception(*exc_info))[-4000:],
                "x-praxis-original-queue": self.queue.name,
                "x-praxis-failed-at": datetime.now(timezone.utc).isoformat(),
            })
        else:
            target = self.retry_queue
        try:
            publish_copy(self.amqp_uri, message, target.name, headers, declare=[target],
                         expiration=(self.retry_delay_seconds
                                     if target is self.retry_queue else None))
        except Exception:
            log.exception("could not park a failed delivery; requeueing it instead")
            self.queue_consumer.requeue_message(message)
            return
        if target is self.dead_letter_queue:
            metrics.DEAD_LETTERED.labels(service, self.event_type).inc()
            log.error("event dead-lettered after %d attempt(s) on %s: %s",
                      attempts, self.queue.name, error)
        else:
            metrics.HANDLER_RETRIES.labels(service, self.event_type).inc()
            log.warning("event handling failed (attempt %d of %d) on %s: %s",
                        attempts, self.max_attempts, self.queue.name, error)
        self.queue_consumer.ack_message(message)


event_handler = ReliableEventHandler.decorator
