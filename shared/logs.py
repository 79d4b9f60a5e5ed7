"""JSON lines on stdout: time, level, service, correlation id, and the event
being handled (id and type). Messages never carry client names or clinical text.
"""
import contextvars
import json
import logging
import sys
from contextlib import contextmanager
from datetime import datetime, timezone

# Set per request / per handled event; green threads each see their own.
_context = contextvars.ContextVar("praxis_log_context", default={})


@contextmanager
def log_context(**values):
    token = _context.set({**_context.get(), **{k: v for k, v in values.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service):
        super().__init__()
        self.service = service

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(service, level=logging.INFO):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
