"""The one event envelope: CloudEvents 1.0, JSON structured mode.

The same JSON document is stored, published and replayed, byte for byte in
meaning: `Event.to_json()` is what goes into the store and onto the wire.
"""
import json
import re
import uuid
from functools import lru_cache
from dataclasses import dataclass, field, replace

from . import tracing
from .errors import InvalidInput
from .timeutil import iso as format_time, utc_now  # noqa: F401 (re-exported)

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "praxis"

# CloudEvents orders `sequence` as a string: zero-padded to this many digits, "10"
# sorts after "2". Envelopes stored before carry it unpadded; both parse alike.
SEQUENCE_DIGITS = 20

ATTRIBUTES = (
    "specversion", "id", "source", "type", "subject", "time", "datacontenttype",
    "dataschema", "sequence", "organisationid", "clinicid", "correlationid", "causationid",
    "traceparent", "previoussequence",
)


# The organisation is the first word of every routing key, so brokers can confine
# an integrator to it: no ".", "#" or "*" (AMQP topic syntax), nothing regex-special.
ORGANISATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class UnsafeOrganisationId(InvalidInput, ValueError):
    """422 for a command; a ValueError (so an invalid event) for a consumer."""


def check_organisation_id(value):
    if not isinstance(value, str) or not ORGANISATION_ID.fullmatch(value):
        raise UnsafeOrganisationId(
            f"organisation id {value!r} is not routable: 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit",
            {"organisation_id": ["letters, digits, '-' and '_' only"]})
    return value


def routing_key(organisation_id, name):
    """'org-1.SessionHeld': what the relay publishes with and bindings match."""
    return f"{check_organisation_id(organisation_id)}.{name}"


def binding_key(name):
    """A consumer's binding: this event of every organisation."""
    return f"*.{name}"


def event_type(service, name, version):
    """'praxis.intake.ClientAssessed.v1': the schema version travels in the type."""
    return f"{TYPE_PREFIX}.{service}.{name}.v{version}"


# Where each type's JSON Schema is published (docs/events/schemas/, `make catalogue`).
DATASCHEMA_BASE = "https://praxis.example/events/schemas/"


def dataschema_uri(type_):
    """'praxis.intake.ClientAssessed.v1' -> '<base>intake.ClientAssessed.v1.json'."""
    service, name, version = parse_type(type_)
    return f"{DATASCHEMA_BASE}{service}.{name}.v{version}.json"


@lru_cache(maxsize=4096)  # a handful of types, parsed for every event read (name, upcast)
def parse_type(type_):
    """-> (service, name, version); ValueError when the type is not Praxis-shaped."""
    parts = type_.split(".")
    if len(parts) != 4 or parts[0] != TYPE_PREFIX or not parts[3].startswith("v"):
        raise ValueError(f"not a Praxis event type: {type_!r}")
    return parts[1], parts[2], int(parts[3][1:])


def _decimal(body, attribute):
    value = body[attribute]
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        raise ValueError(f"envelope attribute {attribute!r} must be a decimal string")
    return int(value)


@dataclass(frozen=True)
class Event:
    id: str
    source: str
    type: str
    subject: str
    time: str
    data: dict
    sequence: int
    organisationid: str
    clinicid: str
    correlationid: str
    causationid: str = None
    dataschema: str = None  # absent in events stored before it was set
    traceparent: str = None  # W3C Trace Context (shared/tracing.py), when the cause had one
    # The version of the stream's published event before this one (0: none). A stream
    # may hold private events, so published versions can jump: this tells a consumer
    # a gap from a private event. None in events stored before it was stamped.
    previoussequence: int = None
    specversion: str = SPECVERSION
    datacontenttype: str = "application/json"

    @property
    def service(self):
        return parse_type(self.type)[0]

    @property
    def name(self):
        """The routing key and the catalogue name, e.g. 'ClientAssessed'."""
        return parse_type(self.type)[1]

    @property
    def version(self):
        return parse_type(self.type)[2]

    def with_data(self, data, type_=None):
        changes = {"data": data, "type": type_ or self.type}
        if type_ and self.dataschema:  # an upcast event names its new version's schema
            changes["dataschema"] = dataschema_uri(type_)
        return replace(self, **changes)

    def to_dict(self):
        body = {a: getattr(self, a) for a in ATTRIBUTES}
        # CloudEvents' sequence extension is a String, ordered lexicographically.
        body["sequence"] = f"{self.sequence:0{SEQUENCE_DIGITS}d}"
        if self.previoussequence is not None:
            body["previoussequence"] = f"{self.previoussequence:0{SEQUENCE_DIGITS}d}"
        for optional in ("causationid", "dataschema", "traceparent", "previoussequence"):
            if body[optional] is None:
                del body[optional]
        body["data"] = self.data
        return body

    def to_json(self):
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, body):
        """Parse an envelope; ValueError names the attribute that is missing or wrong."""
        if not isinstance(body, dict):
            raise ValueError("event envelope must be a JSON object")
        if body.get("specversion") != SPECVERSION:
            raise ValueError(f"specversion must be {SPECVERSION!r}")
        required = ("id", "source", "type", "subject", "time", "sequence",
                    "organisationid", "clinicid", "correlationid")
        for attribute in required:
            if body.get(attribute) in (None, ""):
                raise ValueError(f"envelope attribute {attribute!r} is missing")
        if not isinstance(body.get("data"), dict):
            raise ValueError("envelope attribute 'data' must be an object")
        sequence = _decimal(body, "sequence")  # padded, or unpadded as stored before
        previous = None
        if body.get("previoussequence") is not None:
            previous = _decimal(body, "previoussequence")
            if previous >= sequence:
                raise ValueError("envelope attribute 'previoussequence' must be below "
                                 "'sequence'")
        parse_type(body["type"])
        check_organisation_id(body["organisationid"])
        # a malformed traceparent is dropped, never a refused event: tracing is best effort
        return cls._of(body, sequence, previous, tracing.parse(body.get("traceparent")))

    @classmethod
    def stored(cls, text):
        """An envelope this store wrote: checked when it was appended or consumed, so
        read back (a replay reads every one) without checking again."""
        body = json.loads(text)
        previous = body.get("previoussequence")
        return cls._of(body, int(body["sequence"]),
                       None if previous is None else int(previous), body.get("traceparent"))

    @classmethod
    def _of(cls, body, sequence, previous, traceparent):
        return cls(
            id=body["id"], source=body["source"], type=body["type"],
            subject=body["subject"], time=body["time"], data=body["data"],
            sequence=sequence, organisationid=body["organisationid"],
            clinicid=body["clinicid"], correlationid=body["correlationid"],
            causationid=body.get("causationid"), dataschema=body.get("dataschema"),
            traceparent=traceparent,
            datacontenttype=body.get("datacontenttype", "application/json"),
            previoussequence=previous,
        )

    @classmethod
    def from_json(cls, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Context:
    """Who and what caused a change: stamped on every event it appends."""
    organisation_id: str
    clinic_id: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str = None
    actor: str = None
    # the request's or consumed event's trace, unless given
    traceparent: str = field(default_factory=tracing.current)

    def __post_init__(self):
        # Every append goes through a Context: an unroutable organisation never
        # reaches the store, so the relay never meets one.
        check_organisation_id(self.organisation_id)

    @classmethod
    def caused_by(cls, event):
        """The context for events appended in reaction to `event`."""
        return cls(event.organisationid, event.clinicid,
                       event.correlationid, event.id, actor=f"event:{event.name}",
                       traceparent=event.traceparent)


@dataclass(frozen=True)
class NewEvent:
    """An event a domain decided on, before the store gives it an envelope.

    `data` is in its JSON form (ids and times as strings), as schemas check it.
    """
    name: str
    data: dict
    id: str = None  # set for deterministic ids (exactly-once reactions)
