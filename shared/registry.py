"""Event schemas: one marshmallow schema per (service, event name, version).

Appending validates against the latest version; consuming validates what
arrives and upcasts old versions to the latest before any handler sees them.
"""
from dataclasses import dataclass

from .envelope import Event, event_type, parse_type
from .errors import InvalidEvent


@dataclass(frozen=True)
class EventSpec:
    service: str
    name: str
    version: int
    schema: object
    description: str
    private: bool = False  # kept in the service's own store, never published
    # Data fields stored encrypted under the client's data key (shared/encryption.py).
    sensitive: tuple = ()


class EventRegistry:
    def __init__(self):
        self._specs = {}       # (service, name, version) -> EventSpec
        self._latest = {}      # (service, name) -> version
        self._upcasters = {}   # (service, name, from_version) -> fn(data) -> data

    def register(self, service, name, version, schema_class, description="", private=False,
                 sensitive=()):
        for (other_service, other_name, _), _spec in self._specs.items():
            if other_name == name and other_service != service:
                # Projections and reactions dispatch on the name alone.
                raise ValueError(f"event name {name} is already used by {other_service}")
        schema = schema_class()
        unknown = set(sensitive) - set(schema.fields)
        if unknown:
            raise ValueError(f"{name} v{version}: sensitive fields {sorted(unknown)} are not "
                             "fields of its schema")
        if sensitive and "client_id" not in schema.fields:
            # The data key is the client's: erasing a client must reach every field.
            raise ValueError(f"{name} v{version} has sensitive fields but no client_id")
        spec = EventSpec(service, name, version, schema, description, private,
                         tuple(sensitive))
        self._specs[(service, name, version)] = spec
        if version > self._latest.get((service, name), 0):
            self._latest[(service, name)] = version
        return schema_class

    def event(self, service, name, version, description="", private=False, sensitive=()):
        """Class decorator form of register()."""
        def decorate(schema_class):
            return self.register(service, name, version, schema_class, description, private,
                                 sensitive)
        return decorate

    def is_private(self, type_):
        spec = self._specs.get(parse_type(type_))
        return spec is not None and spec.private

    def sensitive_fields(self, type_):
        """The data fields of this type stored encrypted (none for an unknown type)."""
        try:
            spec = self._specs.get(parse_type(type_))
        except ValueError:
            return ()
        return spec.sensitive if spec is not None else ()

    def upcaster(self, service, name, from_version):
        """Decorator: fn(data of from_version) -> data of from_version + 1."""
        def decorate(fn):
            self._upcasters[(service, name, from_version)] = fn
            return fn
        return decorate

    def has_version(self, service, name, version):
        return (service, name, version) in self._specs

    def has_upcaster(self, service, name, from_version):
        return (service, name, from_version) in self._upcasters

    def latest_type(self, service, name):
        version = self._latest.get((service, name))
        if version is None:
            raise InvalidEvent(f"unknown event {service}.{name}")
        return event_type(service, name, version)

    def published_names(self, service):
        """The names of every event `service` publishes (private ones never leave it)."""
        return sorted({spec.name for spec in self._specs.values()
                       if spec.service == service and not spec.private})

    def specs(self):
        return sorted(self._specs.values(), key=lambda s: (s.service, s.name, s.version))

    def validate(self, event, strict=True):
        """Raise InvalidEvent (naming the fields) unless the payload fits its schema.

        Appending is strict. Consuming (strict=False) ignores fields the schema
        does not know: a producer may add optional fields before its consumers
        are upgraded, and they must not dead-letter those events.
        """
        try:
            key = parse_type(event.type)
        except ValueError as exc:
            raise InvalidEvent(str(exc), {"type": [str(exc)]})
        spec = self._specs.get(key)
        if spec is None:
            raise InvalidEvent(f"unknown event type {event.type}",
                               {"type": [f"unknown event type {event.type}"]})
        errors = spec.schema.validate(event.data)
        if not strict:
            errors = _without_unknown(errors)
        if errors:
            raise InvalidEvent(f"{event.type} payload is invalid: {errors}", errors)

    def upcast(self, event):
        """Bring an event to the latest version of its type."""
        service, name, version = parse_type(event.type)
        latest = self._latest.get((service, name), version)
        data = event.data
        while version < latest:
            step = self._upcasters.get((service, name, version))
            if step is None:
                raise InvalidEvent(f"no upcaster for {service}.{name}.v{version}")
            data = step(dict(data))
            version += 1
        if data is event.data:
            return event
        return event.with_data(data, event_type(service, name, version))

    def decode(self, body):
        """Envelope dict from the wire or the store -> validated, upcast Event."""
        try:
            event = Event.from_dict(body)
        except ValueError as exc:
            raise InvalidEvent(str(exc))
        self.validate(event, strict=False)
        return self.upcast(event)


_UNKNOWN = ["Unknown field."]


def _without_unknown(errors):
    """marshmallow's error tree minus 'Unknown field.' leaves, at any depth."""
    if not isinstance(errors, dict):
        return errors
    kept = {}
    for key, value in errors.items():
        if value == _UNKNOWN:
            continue
        value = _without_unknown(value)
        if value:
            kept[key] = value
    return kept
