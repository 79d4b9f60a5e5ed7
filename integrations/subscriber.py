"""The reference subscriber: how another system follows a Praxis service's events
from the beginning (or from a position) and then live, with no gap and no duplicate,
resuming after a crash.

    python -m integrations.subscriber --service intake --url http://intake:8000 \\
        --amqp-uri amqp://integrator-org-1:...@broker/ --organisation org-1 \\
        --name warehouse --state var/warehouse.db        (token: PRAXIS_INTEGRATOR_TOKEN)

How it keeps every event exactly once, in order per stream:
1. It declares its own durable queue `integrator-<org>.<name>.<service>`, bound to
   `<service>.events` for the organisation's events, *before* reading history: from
   then on every event the service publishes waits in that queue.
2. It reads history through `GET /events?after=<position>` page by page (`next`),
   storing each event and the position in one SQLite transaction.
3. Then it consumes its queue. History holds every event published before the queue
   existed; the queue every event published after; an event in both (or delivered
   twice) is recognised by its CloudEvents `id` and acknowledged without being
   stored again. A producer publishes in store order, so per stream (`subject`) the
   `sequence` rises in the order events are stored here.
A crash loses nothing: the queue is durable and a message is acknowledged only after
its event was committed; on restart history is read again from the stored position
(anything already stored is skipped) and the queue resumes.

Only the standard library and kombu: a system that is not Python can do the same.
"""
import argparse
import json
import logging
import os
import signal
import sqlite3
import urllib.parse
import urllib.request

from kombu import Connection, Consumer, Exchange, Queue

log = logging.getLogger("praxis.subscriber")

SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (service TEXT PRIMARY KEY, after INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    received INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    subject TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    type TEXT NOT NULL,
    via TEXT NOT NULL,
    envelope TEXT NOT NULL
);
"""


class Subscriber:
    def __init__(self, service, url, token, amqp_uri, organisation_id, name, state_path,
                 page_size=500):
        self.service, self.url, self.token = service, url.rstrip("/"), token
        self.amqp_uri, self.organisation_id = amqp_uri, organisation_id
        self.queue_name = f"integrator-{organisation_id}.{name}.{service}"
        self.page_size = page_size
        self.db = sqlite3.connect(state_path, isolation_level=None)  # explicit transactions
        self.db.executescript(SCHEMA)
        self.stopping = False

    # -- the three steps ------------------------------------------------------------
    def run(self, idle_timeout=None):
        """Catch up, then follow live until stopped (or `idle_timeout` s without events)."""
        with Connection(self.amqp_uri) as connection:
            queue = self.declare_queue(connection)
            self.catch_up()
            self.follow(connection, queue, idle_timeout)

    def declare_queue(self, connection):
        exchange = Exchange(f"{self.service}.events", type="topic", durable=True, passive=True)
        queue = Queue(self.queue_name, exchange, routing_key=f"{self.organisation_id}.*",
                      durable=True, auto_delete=False)
        queue(connection.default_channel).declare()
        return queue

    def catch_up(self):
        while not self.stopping:
            after = self.position()
            page = self.get("/events", after=after, limit=self.page_size)
            for item in page["events"]:
                self.store(item["event"], "history", position=item["position"])
            if page["next"] is None:
                log.info("caught up at position %s", self.position())
                return

    def follow(self, connection, queue, idle_timeout=None):
        def on_message(message):
            # The raw body: structured CloudEvents JSON (application/cloudevents+json).
            self.store(json.loads(message.body), "live")
            message.ack()  # only after the event is committed here

        with Consumer(connection, queues=[queue], on_message=on_message, prefetch_count=100):
            while not self.stopping:
                try:
                    connection.drain_events(timeout=idle_timeout or 1)
                except TimeoutError:
                    if idle_timeout:
                        return

    # -- the subscriber's own store ---------------------------------------------------
    def store(self, envelope, via, position=None):
        """One event, once: the event and (for history) the position in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT OR IGNORE INTO events (event_id, service, subject, sequence, type, via,"
                " envelope) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (envelope["id"], self.service, envelope["subject"], int(envelope["sequence"]),
                 envelope["type"], via, json.dumps(envelope, sort_keys=True)))
            if position is not None:
                self.db.execute(
                    "INSERT INTO positions (service, after) VALUES (?, ?) ON CONFLICT(service)"
                    " DO UPDATE SET after = MAX(after, excluded.after)", (self.service, position))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def position(self):
        row = self.db.execute("SELECT after FROM positions WHERE service = ?",
                              (self.service,)).fetchone()
        return row[0] if row else 0

    def get(self, path, **params):
        request = urllib.request.Request(
            f"{self.url}{path}?{urllib.parse.urlencode(params)}",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", required=True)
    parser.add_argument("--url", required=True, help="the service's HTTP base URL")
    parser.add_argument("--amqp-uri", default=os.environ.get("PRAXIS_AMQP_URI"))
    parser.add_argument("--organisation", required=True)
    parser.add_argument("--name", required=True, help="this subscriber's name (its queue)")
    parser.add_argument("--state", required=True, help="the subscriber's SQLite file")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--idle-timeout", type=float, default=None,
                        help="stop after this many seconds without a live event")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    token = os.environ.get("PRAXIS_INTEGRATOR_TOKEN")
    if not token:
        parser.error("PRAXIS_INTEGRATOR_TOKEN is not set (a token of the integrator role)")
    subscriber = Subscriber(args.service, args.url, token, args.amqp_uri, args.organisation,
                            args.name, args.state, args.page_size)

    def stop(*_):
        subscriber.stopping = True
    signal.signal(signal.SIGTERM, stop)
    subscriber.run(args.idle_timeout)


if __name__ == "__main__":
    main()
