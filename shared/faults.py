"""Transient versus permanent failures.

A database or broker that is away is waited out: such a failure says nothing
about the event or request at hand, so a consumer pauses and redelivers it
without counting an attempt, and a request answers 503 with Retry-After. So is a
process whose read models are being rebuilt (shared/projection.py). Only
an error about the event itself (InvalidEvent, a schema or domain refusal)
counts toward dead-lettering.
"""
import socket
import sqlite3
import time

import amqp.exceptions
import kombu.exceptions
from sqlalchemy import exc as sa_exc

from .errors import PraxisError

RETRY_AFTER_SECONDS = 5

# SQLite raises OperationalError for a missing table too: only these are waits.
_SQLITE_TRANSIENT = ("database is locked", "database is busy", "unable to open database",
                     "disk i/o error")

BROKER_ERRORS = (amqp.exceptions.RecoverableConnectionError, amqp.exceptions.ConnectionError,
           kombu.exceptions.OperationalError, kombu.exceptions.ConnectionError)


class ReadModelsRebuilding(Exception):
    """This process's read models are not yet of its release: nothing may read or
    write them until the rebuild swaps the new ones in."""


def _one_is_transient(exc):
    if isinstance(exc, ReadModelsRebuilding):
        return True
    if isinstance(exc, PraxisError):
        return False  # about the event or request: InvalidEvent, Conflict, ...
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True  # a dropped connection; the pool found no free connection in time
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        original = exc.orig
        if isinstance(original, sqlite3.Error):
            return any(part in str(original).lower() for part in _SQLITE_TRANSIENT)
        return True  # PostgreSQL: connection refused, server closed, shutting down, ...
    if isinstance(exc, BROKER_ERRORS):
        return True
    return isinstance(exc, (ConnectionError, socket.timeout, TimeoutError, socket.gaierror))


def is_transient(exc):
    """True when `exc` (or what caused it) is infrastructure being away."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, PraxisError):
            return False
        if _one_is_transient(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def what_is_away(exc):
    """'database', 'broker' or 'read models', for logs, readiness and the 503's message."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ReadModelsRebuilding):
            return "read models"
        if isinstance(exc, sa_exc.SQLAlchemyError):
            return "database"
        exc = exc.__cause__ or exc.__context__
    return "broker"


class Backoff:
    """A pause shared by one handler's deliveries: each transient failure doubles
    it (up to `ceiling`), any success ends it."""

    def __init__(self, initial=0.5, ceiling=10.0):
        self.initial, self.ceiling = initial, ceiling
        self.failures = 0
        self.away = None  # what is away right now
        self.until = 0.0

    def failed(self, away):
        self.failures += 1
        self.away = away
        delay = min(self.initial * 2 ** (self.failures - 1), self.ceiling)
        self.until = max(self.until, time.monotonic() + delay)
        return delay

    def succeeded(self):
        self.failures, self.away, self.until = 0, None, 0.0

    def wait(self):
        while (remaining := self.until - time.monotonic()) > 0:
            time.sleep(remaining)
