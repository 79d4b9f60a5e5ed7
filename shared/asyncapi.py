"""The event contract, generated from the catalogue (shared/events/):

- an AsyncAPI 3.0 document: a channel per exchange `<service>.events` (topic,
  durable) addressed by routing key `<organisation>.<Event>`, a message per
  published type and version (the CloudEvents envelope with its data's JSON
  Schema), the producer's send operation and each consumer's receive of the
  messages its subscription table takes (services/<service>/subscriptions.py);
- one JSON Schema per published type and version, the events' `dataschema`.

`python -m shared.asyncapi --write docs/events` (`make catalogue`) writes
docs/events/asyncapi.json and docs/events/schemas/<service>.<Event>.v<N>.json;
tests keep the committed files equal to these and every change additive
(shared/compat.py). It refuses to overwrite a published schema with a
breaking change: that needs a new version with an upcaster.
"""
import json
import sys
from functools import lru_cache
from pathlib import Path

from . import broker_identity, subscriptions
from .compat import breaking_changes
from .consumer import subscription_queue_name
from .envelope import CONTENT_TYPE, ORGANISATION_ID, SPECVERSION, dataschema_uri, event_type
from .events import catalogue
from .jsonschema import DIALECT, object_schema

BINDING_VERSION = "0.3.0"
ENVELOPE = "CloudEventEnvelope"


def published(registry=catalogue):
    return [spec for spec in registry.specs() if not spec.private]


def schema_name(spec):
    """'intake.ClientAssessed.v1': the schema file's stem and the message's key."""
    return f"{spec.service}.{spec.name}.v{spec.version}"


def data_schema(spec):
    """The JSON Schema of a type's `data`, as published at its dataschema URI."""
    type_ = event_type(spec.service, spec.name, spec.version)
    return {"$schema": DIALECT, "$id": dataschema_uri(type_), "title": type_,
            "description": spec.description, **object_schema(spec.schema)}


def envelope_schema():
    """The CloudEvents 1.0 attributes and Praxis's extensions (shared/envelope.py)."""
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "CloudEvents 1.0, structured mode: the AMQP body is this JSON "
                       "document (AMQP message_id = id, delivery mode 2, persistent).",
        "properties": {
            "specversion": {"type": "string", "const": SPECVERSION},
            "id": {**text, "description": "unique per event: deduplicate on it"},
            "source": {"type": "string", "pattern": "^/praxis/[a-z]+$",
                       "description": "/praxis/<producing service>"},
            "type": {"type": "string", "pattern": r"^praxis\.[a-z]+\.[A-Za-z]+\.v[0-9]+$",
                     "description": "praxis.<service>.<Event>.v<N>: the version of data"},
            "subject": {**text, "description": "the stream (aggregate) the event belongs to"},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"type": "string", "const": "application/json"},
            "dataschema": {"type": "string", "format": "uri",
                           "description": "the JSON Schema of data (absent in events "
                                          "stored before it was set)"},
            "sequence": {"type": "string", "pattern": "^[0-9]+$",
                         "description": "extension: the event's version in its stream, "
                                        "zero-padded to 20 digits so it orders as a "
                                        "string (events stored before are unpadded: "
                                        "read them as integers)"},
            "previoussequence": {"type": "string", "pattern": "^[0-9]+$",
                                 "description": "extension: the sequence of the stream's "
                                                "published event before this one (all "
                                                "zeros for the first), zero-padded like "
                                                "sequence; a stream's private events "
                                                "leave gaps in sequence, so apply an "
                                                "event only after this one (absent in "
                                                "events stored before it was stamped)"},
            "organisationid": {"type": "string", "pattern": f"^{ORGANISATION_ID.pattern}$",
                               "description": "extension: the tenant; the routing key's "
                                              "first word"},
            "clinicid": {**text, "description": "extension: the clinic"},
            "correlationid": {**text, "description": "extension: the request that caused "
                                                     "it, across services"},
            "causationid": {**text, "description": "extension: the event that caused it "
                                                   "(absent when a command did)"},
            "traceparent": {"type": "string",
                            "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                            "description": "extension (distributed tracing): the W3C "
                                           "traceparent of the request or event that "
                                           "caused it, as it came (absent without one)"},
            "data": {"type": "object"},
        },
        "required": ["specversion", "id", "source", "type", "subject", "time", "sequence",
                     "organisationid", "clinicid", "correlationid", "data"],
    }


def _message(spec):
    type_ = event_type(spec.service, spec.name, spec.version)
    payload = {"allOf": [
        {"$ref": f"#/components/schemas/{ENVELOPE}"},
        {"type": "object",
         "properties": {"type": {"const": type_},
                        "source": {"const": f"/praxis/{spec.service}"},
                        "dataschema": {"const": dataschema_uri(type_)},
                        "data": {"$ref": f"#/components/schemas/{schema_name(spec)}"}}}]}
    return {
        "name": spec.name, "title": type_, "summary": spec.description,
        "contentType": CONTENT_TYPE, "payload": payload,
        "correlationId": {"location": "$message.payload#/correlationid"},
        "bindings": {"amqp": {"messageType": type_, "bindingVersion": BINDING_VERSION}},
    }


def _channel(service, specs):
    names = sorted({spec.name for spec in specs})
    return {
        "address": "{organisation}.{event}",
        "title": f"{service}.events",
        "description": f"The topic exchange `{service}.events`: {service}'s events, routing "
                       "key `<organisation>.<Event>`. Bind `*.<Event>` for an event of "
                       "every organisation, `<organisation>.*` for all of one's.",
        "parameters": {
            "organisation": {"description": "the organisation id (1-64 letters, digits, "
                                            "'-' or '_'): envelope attribute organisationid"},
            "event": {"enum": names, "description": "the event name, without its version"},
        },
        "messages": {schema_name(spec): {"$ref": f"#/components/messages/{schema_name(spec)}"}
                     for spec in specs},
        "bindings": {"amqp": {
            "is": "routingKey",
            "exchange": {"name": f"{service}.events", "type": "topic", "durable": True,
                         "autoDelete": False, "vhost": "/"},
            "bindingVersion": BINDING_VERSION}},
    }


def _operation(action, service, specs, summary):
    operation = {
        "action": action, "channel": {"$ref": f"#/channels/{service}.events"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{service}.events/messages/{schema_name(spec)}"}
                     for spec in specs],
    }
    if action == "send":
        operation["bindings"] = {"amqp": {"deliveryMode": 2, "mandatory": False,
                                          "bindingVersion": BINDING_VERSION}}
    return operation


def document(registry=catalogue):
    by_service = {}
    for spec in published(registry):
        by_service.setdefault(spec.service, []).append(spec)
    channels, operations = {}, {}
    for service, specs in by_service.items():
        channels[f"{service}.events"] = _channel(service, specs)
        operations[f"{service}.publish"] = _operation(
            "send", service, specs, f"{service} publishes its events (outbox relay, "
                                    "publisher confirms); only its broker user may")
        for consumer in broker_identity.SERVICES:
            taken = set(subscriptions.of(consumer).events_of(service))
            received = [spec for spec in specs if spec.name in taken]
            if received:
                operations[f"{consumer}.receive.{service}"] = _operation(
                    "receive", service, received,
                    f"{consumer} consumes these of {service}'s events from one durable "
                    f"queue, {subscription_queue_name(service, consumer)}, bound "
                    "`*.<Event>` for each")
    components = {"schemas": {ENVELOPE: envelope_schema()}, "messages": {}}
    for spec in published(registry):
        schema = data_schema(spec)
        del schema["$schema"], schema["$id"]  # inline: the file's identity is its own
        components["schemas"][schema_name(spec)] = schema
        components["messages"][schema_name(spec)] = _message(spec)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Praxis events", "version": "1.0.0",
                 "description": "Every event Praxis publishes, per service, type and "
                                "version. Delivery is at least once: deduplicate on id. "
                                "Within a version fields are only added (optional): "
                                "ignore fields you do not know."},
        "defaultContentType": CONTENT_TYPE,
        "servers": {"rabbitmq": {"host": "rabbitmq:5672", "protocol": "amqp",
                                 "protocolVersion": "0.9.1",
                                 "description": "the deployment's RabbitMQ (AMQP_URI)"}},
        "channels": channels, "operations": operations, "components": components,
    }


def dumps(value):
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def served():
    """The document as GET /asyncapi.json answers it (the catalogue does not change)."""
    return document()


def files(registry=catalogue):
    """{relative path: text} of the contract files."""
    out = {"asyncapi.json": dumps(document(registry))}
    for spec in published(registry):
        out[f"schemas/{schema_name(spec)}.json"] = dumps(data_schema(spec))
    return out


def write(directory, registry=catalogue):
    """Write the contract files; refuse (SystemExit) a breaking change to a published one."""
    directory = Path(directory)
    generated = files(registry)
    refused = []
    for relative, text in generated.items():
        path = directory / relative
        if relative.startswith("schemas/") and path.exists():
            changes = breaking_changes(json.loads(path.read_text()), json.loads(text))
            refused += [f"{relative}: {change}" for change in changes]
    if refused:
        raise SystemExit("not written: breaking changes to published schemas (add a new "
                         "version with an upcaster instead):\n  " + "\n  ".join(refused))
    for relative, text in generated.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(sys.argv[2])
    else:
        sys.stdout.write(dumps(document()))
