"""Operator tools for dead-lettered deliveries: inspect them, replay them."""
import json

from kombu import Connection

from .consumer import ATTEMPTS_HEADER, dead_letter_queue, publish_copy, replay_route


def inspect(amqp_uri, queue_name, limit=100):
    """Peek at a handler's dead letters without removing them."""
    found = []
    queue = dead_letter_queue(queue_name)
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        bound = queue(channel)
        bound.declare()
        held = []
        try:
            while len(held) < limit:
                message = bound.get(no_ack=False)
                if message is None:
                    break
                held.append(message)
                headers = message.headers or {}
                try:
                    event = json.loads(message.body)
                except ValueError:
                    event = {}
                found.append({
                    "event_id": message.properties.get("message_id"),
                    "type": event.get("type"),
                    "subject": event.get("subject"),
                    "attempts": headers.get(ATTEMPTS_HEADER),
                    "error": headers.get("x-praxis-error"),
                    "failed_at": headers.get("x-praxis-failed-at"),
                })
        finally:
            for message in held:
                message.requeue()
            channel.close()
    return found


def replay(amqp_uri, queue_name, limit=None):
    """Send dead letters back to the handler's queue with a fresh attempt count."""
    queue = dead_letter_queue(queue_name)
    replayed = 0
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        bound = queue(channel)
        bound.declare()
        try:
            while limit is None or replayed < limit:
                message = bound.get(no_ack=False)
                if message is None:
                    break
                headers = {k: v for k, v in (message.headers or {}).items()
                           if not k.startswith("x-praxis-")}
                publish_copy(amqp_uri, message, queue_name, headers,
                             declare=[replay_route(queue_name)])
                message.ack()
                replayed += 1
        finally:
            channel.close()
    return replayed

