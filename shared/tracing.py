"""W3C Trace Context: the `traceparent` a request arrives with, carried into the
events it causes (CloudEvents' distributed-tracing extension) and from a consumed
event into the events its reaction appends, so an OpenTelemetry collector can follow
one request across the services. Beside the correlation id, not instead of it.

Praxis records no spans of its own, so it passes the caller's traceparent on as it
came (normalised to version 00), as the W3C recommendation has a system that does not
trace do. A header that is not a traceparent is ignored: tracing never refuses a
request or an event.
"""
import contextvars
import re
from contextlib import contextmanager

HEADER = "traceparent"

# version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex (W3C Trace Context, 3.2).
_TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<parent_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>.*)", re.S)

_current = contextvars.ContextVar("praxis_traceparent", default=None)


def parse(value):
    """The traceparent in its version-00 form, or None when `value` is not one.

    Version 00 is exactly its four fields; a later version may append fields after a
    "-", which are dropped (only the four are known). Version ff, and an all-zero trace
    or parent id, are invalid by the specification.
    """
    if not isinstance(value, str):
        return None
    match = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.group(
        "version", "trace_id", "parent_id", "flags", "rest")
    if version == "ff" or set(trace_id) == {"0"} or set(parent_id) == {"0"}:
        return None
    if rest and (version == "00" or not rest.startswith("-")):
        return None
    return f"00-{trace_id}-{parent_id}-{flags}"


def trace_id(traceparent):
    """'00-<trace id>-<parent id>-<flags>' -> the trace id (None for None)."""
    return traceparent.split("-")[1] if traceparent else None


def bind(traceparent):
    """For the runtime, per worker: a request's handler runs in a green thread of its own."""
    _current.set(traceparent)


def current():
    """The traceparent of the request or event being handled, if it had one."""
    return _current.get()


@contextmanager
def tracing(traceparent):
    """While handling a request or an event: what `current()` answers."""
    token = _current.set(traceparent)
    try:
        yield
    finally:
        _current.reset(token)
