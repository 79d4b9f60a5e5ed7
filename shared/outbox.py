"""The outbox relay: publishes committed events, marks them sent once confirmed.

A batch is published on one confirm-mode channel and the relay waits once for
the broker's acks of the whole batch (not one wait per message). The routing
key is "<organisation>.<event name>", so a broker user can be confined to one
organisation's events by a topic permission. Rows leave
the outbox only after every message of the batch is confirmed; on a nack, a
timeout or a lost connection the batch stays and is published again on the
next pass. Consumers are idempotent, so a resend after a crash is harmless.

No database transaction stays open while the relay waits on the broker: it reads
a batch, commits, publishes and waits for the confirms, then deletes the rows
in a new transaction. On PostgreSQL a session advisory lock, held on its own
connection across the whole pass, keeps one relay per database (whatever the
replica count), so events leave in store order.
"""
import json
import logging
import socket
import threading
import time

import amqp
from sqlalchemy import text

from . import metrics
from .config import amqp_connection as Connection
from .envelope import CONTENT_TYPE, SEQUENCE_DIGITS, Event, parse_type, routing_key

log = logging.getLogger(__name__)

RELAY_LOCK_KEY = 0x72656C61  # "the relay of this database", for pg_try_advisory_lock


class PublishFailed(Exception):
    pass


class OutboxRelay:
    def __init__(self, store, amqp_uri, batch_size=500, poll_interval=0.5,
                 confirm_timeout=10.0):
        self.store = store
        self.amqp_uri = amqp_uri
        self.exchange = f"{store.service}.events"
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.confirm_timeout = confirm_timeout
        self._connection = None
        self._channel = None
        self._next_tag = 1
        self._unconfirmed = set()
        self._nacked = False
        self._wake = threading.Event()
        self._running = False
        store.on_commit(self._wake.set)

    # -- broker ------------------------------------------------------------
    def declare_exchange(self):
        """Declare this service's exchange at start: other services' consumers
        wait for it and may not declare it themselves."""
        with Connection(self.amqp_uri, connect_timeout=5) as connection:
            connection.default_channel.exchange_declare(
                self.exchange, "topic", durable=True, auto_delete=False)

    def _connect(self):
        if self._channel is not None:
            return
        connection = Connection(self.amqp_uri, connect_timeout=5, heartbeat=0)
        connection.connect()
        channel = connection.channel()
        channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self._connection, self._channel = connection, channel
        self._next_tag = 1

    def close(self):
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # already broken: nothing to release
                pass

    def _on_ack(self, tag, multiple):
        if multiple:
            self._unconfirmed = {t for t in self._unconfirmed if t > tag}
        else:
            self._unconfirmed.discard(tag)

    def _on_nack(self, tag, multiple):
        self._nacked = True
        self._on_ack(tag, multiple)

    def _publish_batch(self, rows):
        """Publish rows [(position, envelope)] and wait for all confirms."""
        self._connect()
        self._nacked = False
        names = []
        for _position, stored in rows:
            body = json.loads(stored)
            # An event stored before `sequence` was padded is re-serialized, so it
            # leaves in today's form; one stored since is sent as it is stored.
            envelope = stored if len(str(body["sequence"])) == SEQUENCE_DIGITS \
                else Event.from_dict(body).to_json()
            name = parse_type(body["type"])[1]
            names.append(name)
            message = amqp.Message(
                envelope.encode("utf-8"), content_type=CONTENT_TYPE,
                content_encoding="utf-8", delivery_mode=2, message_id=body["id"],
                correlation_id=body["correlationid"], type=body["type"],
                timestamp=int(time.time()))
            self._unconfirmed.add(self._next_tag)
            self._next_tag += 1
            self._channel.basic_publish(message, exchange=self.exchange,
                                        routing_key=routing_key(body["organisationid"], name))
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishFailed(f"{len(self._unconfirmed)} confirms missing after "
                                    f"{self.confirm_timeout}s")
            try:
                self._connection.drain_events(timeout=remaining)
            except socket.timeout:
                continue
        if self._nacked:
            raise PublishFailed("the broker refused (nacked) part of the batch")
        return names

    # -- one pass ----------------------------------------------------------
    def relay_once(self):
        """Publish up to one batch; return how many events the broker confirmed."""
        store = self.store
        if store.is_sqlite:
            # Keep the file unlocked while waiting on the network; one relay per file.
            with store.read() as conn:
                rows = store.pending(conn, self.batch_size)
            if not rows:
                return 0
            names = self._publish_batch(rows)
            with store.write() as conn:
                store.mark_sent(conn, [p for p, _ in rows])
        else:
            # One relay at a time per database, whatever the replica count, so events
            # leave in store order (a stream's events never overtake). The lock is a
            # session's, on a connection outside any transaction (autocommit), held
            # until the batch's rows are deleted.
            with store.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as lock:
                if not lock.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                    {"key": RELAY_LOCK_KEY}).scalar():
                    return 0
                try:
                    with store.read() as conn:
                        rows = store.pending(conn, self.batch_size)
                        conn.commit()
                    if not rows:
                        return 0
                    names = self._publish_batch(rows)
                    with store.write() as conn:
                        store.mark_sent(conn, [p for p, _ in rows])
                finally:
                    # Closing the connection would release it too; unlocking keeps the
                    # pooled connection clean. A dead connection already released it.
                    try:
                        lock.execute(text("SELECT pg_advisory_unlock(:key)"),
                                     {"key": RELAY_LOCK_KEY})
                    except Exception:
                        lock.invalidate()
        for name in names:
            metrics.EVENTS_PUBLISHED.labels(store.service, name).inc()
        return len(rows)

    def drain(self):
        """Publish until the outbox is empty (used by tests and the CLI)."""
        total = 0
        while True:
            sent = self.relay_once()
            if not sent:
                return total
            total += sent

    # -- background loop -----------------------------------------------------
    def run(self):
        self._running = True
        backoff = 0.5
        while self._running:
            try:
                sent = self.relay_once()
                backoff = 0.5
            except Exception as exc:  # broker down, nack, timeout: retry the batch later
                metrics.RELAY_FAILURES.labels(self.store.service).inc()
                log.warning("outbox relay pass failed, retrying in %.1fs: %s", backoff, exc)
                self._unconfirmed.clear()
                self.close()
                self._wake.wait(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, 10.0)
                continue
            if sent < self.batch_size:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def stop(self):
        self._running = False
        self._wake.set()
