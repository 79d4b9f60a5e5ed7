"""Operator tools for dead-lettered deliveries: inspect them, replay them.

A letter's body may be anything a publisher sent (an array, not JSON, binary):
it is shown for what it is, never decoded by kombu. Inspecting holds every
letter unacked until the end, so it sees each once and in order, then gives
them all back; replay moves only the letters there when it began, so a replayed
event that fails again is not replayed twice in one run.
"""
import json

from .config import amqp_connection as Connection

from .consumer import ATTEMPTS_HEADER, REASON_HEADER, dead_letter_queue, publish_copy, \
    replay_route


def describe(message):
    """One letter as the CLI prints it, whatever its body."""
    headers = message.headers or {}
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    try:
        event = json.loads(body)
        problem = None if isinstance(event, dict) else f"body is a JSON {type(event).__name__}"
    except ValueError:
        event, problem = None, "body is not JSON"
    event = event if isinstance(event, dict) else {}
    letter = {
        "event_id": message.properties.get("message_id"),
        "type": event.get("type"),
        "subject": event.get("subject"),
        "content_type": message.content_type,
        "attempts": headers.get(ATTEMPTS_HEADER),
        "error": _text(headers.get("x-praxis-error")),
        # "gap": the event before it in its stream never came (shared/deferred.py)
        "reason": _text(headers.get(REASON_HEADER)),
        "failed_at": _text(headers.get("x-praxis-failed-at")),
    }
    if problem:
        letter["body_problem"] = problem
        letter["body_preview"] = body[:200].decode("utf-8", "backslashreplace")
    return letter


def _get(bound):
    """The next letter, unacked, whatever its body: kombu's Queue.get raises for one
    it cannot unpack (a compression that fails), so it is taken raw."""
    raw = bound.channel.basic_get(queue=bound.name, no_ack=False)
    return None if raw is None else bound.channel.message_to_python(raw)


def _text(value):
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value


def inspect(amqp_uri, queue_name, offset=0, limit=None, queue_type=None):
    """Peek at a handler's dead letters without removing them (all by default)."""
    return page(amqp_uri, queue_name, offset, limit, queue_type)[0]


def page(amqp_uri, queue_name, offset=0, limit=None, queue_type=None):
    """The dead letters from `offset` on, at most `limit` (None: all), without
    removing them; returns (letters, how many the queue holds). `queue_type`:
    PRAXIS_QUEUE_TYPE unless given."""
    found = []
    queue = dead_letter_queue(queue_name, queue_type)
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        bound = queue(channel)
        bound.declare()
        total = bound.queue_declare(passive=True).message_count
        held = []
        try:
            # Held unacked, a letter is not handed out again: each is seen once.
            while len(held) < total:
                message = _get(bound)
                if message is None:
                    break
                held.append(message)
                if len(held) > offset and (limit is None or len(found) < limit):
                    found.append(describe(message))
                elif limit is not None and len(found) >= limit:
                    break
        finally:
            for message in held:
                message.requeue()
            channel.close()
    return found, total


def replay(amqp_uri, queue_name, limit=None, queue_type=None):
    """Send dead letters back to the handler's queue with a fresh attempt count."""
    queue = dead_letter_queue(queue_name, queue_type)
    replayed = 0
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        bound = queue(channel)
        bound.declare()
        # Only the letters here now: one that fails again lands behind them.
        waiting = bound.queue_declare(passive=True).message_count
        limit = waiting if limit is None else min(limit, waiting)
        try:
            while replayed < limit:
                message = _get(bound)
                if message is None:
                    break
                headers = {k: v for k, v in (message.headers or {}).items()
                           if not k.startswith("x-praxis-")}
                publish_copy(amqp_uri, message, queue_name, headers,
                             declare=[replay_route(queue_name, queue_type)])
                message.ack()
                replayed += 1
        finally:
            channel.close()
    return replayed

