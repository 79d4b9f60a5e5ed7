"""Query latency as a store grows: billing's store (and intake's, for the directory)
seeded to each size, then the HTTP routes of the running services timed.

Seeding is fast and honest this way: one client's history goes through billing's
real consumer once (ClientRegistered, SessionHeld -> the ChargeRecorded it priced);
copies of those three events, every id renewed, are bulk-inserted, each sealed by
the store itself (`EventStore.sealed`: a data key per client, as consume() would);
then the real projection builds every read model once (`shared.projection.rebuild`).
Intake's store gets its own ClientRegistered events the same way. No outbox rows:
a relay would long have sent them.
"""
import itertools
import json
import re
import statistics
import time
import uuid
from contextlib import contextmanager

import requests
from nameko.containers import ServiceContainer
from sqlalchemy import insert, select

from services.billing.service import Service as Billing
from services.intake.service import Service as Intake
from shared.envelope import Event
from shared.projection import rebuild
from shared.store import events_table, utc_now
from tests.support import service_config, token

from .praxis import billing_application, client_registered_envelope, registered_client, \
    session_held_envelope

SESSIONS_PER_CLIENT = 10  # 1 + 2 x 10 events a client in billing's store
CHUNK = 5000
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FEED_PAGE = 100


def _renewed(text, renewed):
    """`text` with every id in `renewed` replaced (ids not in it kept)."""
    return UUID.sub(lambda m: renewed.get(m.group(0), m.group(0)), text)


def _stored_rows(store):
    """[(stream_id, version, origin, published, plaintext envelope)] in store order."""
    with store.read() as conn:
        rows = conn.execute(select(events_table.c.stream_id, events_table.c.version,
                                   events_table.c.origin, events_table.c.published,
                                   events_table.c.envelope)
                            .order_by(events_table.c.position)).all()
        return [(r.stream_id, r.version, r.origin, r.published,
                 store.opened(r.envelope, conn).to_json()) for r in rows]


def _bulk_insert(store, copies):
    """Insert (stream_id, version, origin, published, envelope json) rows, sealed, a
    chunk a transaction (`copies` is consumed as it goes: 1M events never sit in memory)."""
    now = utc_now()
    copies = iter(copies)
    while chunk := list(itertools.islice(copies, CHUNK)):
        with store.write() as conn:
            rows = []
            for stream_id, version, origin, published, envelope in chunk:
                event = Event.from_json(envelope)
                rows.append({"event_id": event.id, "stream_id": stream_id, "version": version,
                             "type": event.type, "origin": origin,
                             "organisation_id": event.organisationid,
                             "clinic_id": event.clinicid, "recorded_at": now,
                             "envelope": store.sealed(event, conn, now),
                             "published": published})
            conn.execute(insert(events_table), rows)


def seed_billing(url_factory, size):
    """Billing's store with about `size` events; -> (url, a client id, the `after` of
    /events' last page)."""
    scratch = billing_application(url_factory())
    template_client = registered_client(scratch)
    scratch.consume(session_held_envelope(template_client))
    registered, *session = _stored_rows(scratch.store)
    scratch.store.engine.dispose()
    client_ids = set(UUID.findall(registered[4])) | set(UUID.findall(registered[0]))
    session_ids = set().union(*(UUID.findall(row[4] + row[0]) for row in session)) - client_ids
    clients = [{old: str(uuid.uuid4()) for old in client_ids}
               for _ in range(max(1, size // (1 + 2 * SESSIONS_PER_CLIENT)))]

    def copies():
        for per_client in clients:
            yield (_renewed(registered[0], per_client), registered[1], registered[2],
                   registered[3], _renewed(registered[4], per_client))
            for _ in range(SESSIONS_PER_CLIENT):
                renewed = {**per_client, **{old: str(uuid.uuid4()) for old in session_ids}}
                for stream, version, origin, published, envelope in session:
                    yield (_renewed(stream, renewed), version, origin, published,
                           _renewed(envelope, renewed))

    url = url_factory()
    application = billing_application(url)
    _bulk_insert(application.store, copies())
    rebuild(application.store)
    with application.store.read() as conn:
        after = conn.execute(select(events_table.c.position)
                             .where(events_table.c.origin == "billing")
                             .order_by(events_table.c.position.desc())
                             .offset(FEED_PAGE).limit(1)).scalar() or 0
    application.store.engine.dispose()
    return url, clients[len(clients) // 2][template_client], after


def seed_intake(url_factory, size):
    """Intake's store with `size` clients registered (its own events)."""
    url = url_factory()
    application = Intake.praxis.application_class(url)

    def copies():
        for _ in range(size):
            registered = {**client_registered_envelope(str(uuid.uuid4())),
                          "source": "/praxis/intake"}
            yield registered["subject"], 1, "intake", True, json.dumps(registered)

    _bulk_insert(application.store, copies())
    rebuild(application.store)
    application.store.engine.dispose()
    return url


@contextmanager
def running(service_class, url, amqp_uri):
    """Start the service's container; yield (base URL, ms until /readyz said 200)."""
    settings, nameko_config = service_config(service_class.name, url, amqp_uri)
    container = ServiceContainer(service_class, nameko_config)
    started = time.perf_counter()
    container.start()
    try:
        while True:
            try:
                if requests.get(settings.base_url + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"{service_class.name} not ready after 120 s")
            time.sleep(0.01)
        yield settings.base_url, (time.perf_counter() - started) * 1000
    finally:
        container.stop()


def timed(url, bearer, repeats):
    """Median ms of `repeats` GETs (one first, not counted, to warm caches)."""
    headers = {"Authorization": f"Bearer {bearer}"}
    taken = []
    for number in range(repeats + 1):
        started = time.perf_counter()
        response = requests.get(url, headers=headers, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:200]}")
        if number:
            taken.append(elapsed)
    return statistics.median(taken)


def sample(billing, intake, amqp_uri, repeats):
    """One round at one size: {query: ms}."""
    (billing_url, client_id, after), intake_url = billing, intake
    bearer = token(role="admin")
    with running(Billing, billing_url, amqp_uri) as (base, start_up):
        found = {
            "balance": timed(f"{base}/clients/{client_id}/balance", bearer, repeats),
            "charges": timed(f"{base}/charges?clinic_id=clinic-1", bearer, repeats),
            "events last page": timed(f"{base}/events?after={after}&limit={FEED_PAGE}",
                                      bearer, repeats)}
    with running(Intake, intake_url, amqp_uri) as (base, _):
        found["directory"] = timed(f"{base}/clients?clinic_id=clinic-1", bearer, repeats)
    found["billing start-up"] = start_up
    return found
