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


def _database_errors(exc):
    """The database errors in an exception's chain (sqlalchemy, psycopg2, sqlite3)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__module__.split(".")[0] in ("sqlalchemy", "psycopg2", "sqlite3"):
            yield exc
        exc = exc.__cause__ or exc.__context__


def scrub_database_errors(text, exc):
    """`text` without the database's own words: a driver's message and DETAIL quote
    the values (a client's name in a unique key, a note in a bad cast), so only the
    class and SQLSTATE remain."""
    for error in _database_errors(exc):
        words = str(error)
        if words:
            code = getattr(getattr(error, "orig", error), "pgcode", None)
            text = text.replace(words, f"{type(error).__name__}"
                                       f"{f' (SQLSTATE {code})' if code else ''}: detail withheld")
    return text


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
        # The error logged, and any error a message was formatted with (nameko's
        # "error handling worker ...: <error>").
        errors = [record.exc_info[1]] if record.exc_info else []
        errors += [a for a in (record.args if isinstance(record.args, tuple) else ())
                   if isinstance(a, BaseException)]
        for error in errors:
            for name in ("message", "exception"):
                if name in line:
                    line[name] = scrub_database_errors(line[name], error)
        return json.dumps(line, default=str)


def configure(service, level=logging.INFO):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
