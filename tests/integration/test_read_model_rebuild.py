"""A read-model rebuild beside the live tables, on both engines (issue 13 item 6):
appends go on while it replays, the swap gives what a replay of every event gives,
one replica rebuilds while another waits, and an interrupted one changes nothing."""
import threading
import uuid

import pytest
from sqlalchemy import Column, MetaData, String, Table, delete, insert, inspect, select, update

from shared import projection as read_models
from shared.application import Application
from shared.envelope import Context, NewEvent
from shared.events import catalogue
from shared.faults import ReadModelsRebuilding, is_transient
from shared.projection import Progress, Projection, ReadModels, ensure_current, rebuild
from shared.store import EventStore, read_model_schema_table
from tests.support import wait_until

pytestmark = pytest.mark.integration

CONTEXT = Context("org-1", "clinic-1")

# The release running now: clients' names.
old_metadata = MetaData()
old_names = Table("rebuild_names", old_metadata,
                  Column("client_id", String(36), primary_key=True), Column("name", String(200)))
old_release = Projection(old_metadata)


@old_release.on("ClientRegistered")
def _old_name(conn, event):
    conn.execute(insert(old_names).values(client_id=event.data["client_id"],
                                          name=event.data["name"]))


# The next release: the same names, and a new table of dates of birth.
new_metadata = MetaData()
names = Table("rebuild_names", new_metadata,
              Column("client_id", String(36), primary_key=True), Column("name", String(200)))
births = Table("rebuild_births", new_metadata,
               Column("client_id", String(36), primary_key=True),
               Column("date_of_birth", String(10), nullable=False))
new_release = Projection(new_metadata)


@new_release.on("ClientRegistered")
def _name(conn, event):
    conn.execute(insert(names).values(client_id=event.data["client_id"],
                                      name=event.data["name"]))


@new_release.on("ClientRegistered")
def _birth(conn, event):
    conn.execute(insert(births).values(client_id=event.data["client_id"],
                                       date_of_birth=event.data["date_of_birth"]))


class NewRelease(Application):
    service = "intake"
    projection = new_release


def registered(client_id, name):
    return NewEvent("ClientRegistered", {
        "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
        "contact": {"email": None, "phone": None}, "registered_at": "2026-01-01T09:00:00Z"})


def append_clients(store, count, per_transaction=100):
    for start in range(0, count, per_transaction):
        with store.unit_of_work() as uow:
            for n in range(start, min(start + per_transaction, count)):
                client_id = str(uuid.uuid4())
                uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id, f"C{n}")])


def written_by_the_running_release(url):
    """A store the running release wrote 2,500 events to."""
    store = EventStore(url, "intake", catalogue, old_release)
    store.create_schema()
    ensure_current(store)
    append_clients(store, 2500)
    return store


@pytest.fixture
def old_store(database_url):
    store = written_by_the_running_release(database_url)
    yield store
    store.engine.dispose()


def expected_rows(store):
    """What a replay of every event in the store gives."""
    events = [event for _, event in store.read_all(limit=10**6)]
    return ({(e.data["client_id"], e.data["name"]) for e in events},
            {(e.data["client_id"], e.data["date_of_birth"]) for e in events})


def live_rows(store):
    with store.read() as conn:
        return (set(conn.execute(select(names.c.client_id, names.c.name)).all()),
                set(conn.execute(select(births.c.client_id, births.c.date_of_birth)).all()))


class Pausing(Progress):
    """Progress that, after the first batch, runs `during()` (in the rebuild's
    transaction, which must not block it) before the rebuild goes on."""

    def __init__(self, service, during):
        super().__init__(service)
        self.during, self.paused = during, False

    def advanced(self, count):
        super().advanced(count)
        if not self.paused and self.replayed:
            self.paused = True
            self.during()


def leftovers(store):
    """Shadow schemas or files a rebuild left behind."""
    if store.is_sqlite:
        import os
        path = store.engine.url.database + ".rebuild"
        return [p for p in (path, path + "-wal") if os.path.exists(p)]
    return [s for s in inspect(store.engine).get_schema_names() if "_rebuild_" in s]


def test_appends_go_on_during_a_rebuild_and_the_swap_includes_them(old_store):
    url = old_store.url
    application = NewRelease(url, rebuild_later=True)
    read = application.read_models
    assert read.state == "waiting" and not read.current
    seen = {}

    def during():
        # The running release keeps appending (its own store, its own projection).
        writer = threading.Thread(target=append_clients, args=(old_store, 300, 10))
        writer.start()
        writer.join()
        seen["state"] = read.describe()
        # This process touches no read model until the swap: a 503, uncounted waits.
        with pytest.raises(ReadModelsRebuilding) as refused:
            with application.store.read() as conn:
                conn.execute(select(names))
        seen["transient"] = is_transient(refused.value)
        with pytest.raises(ReadModelsRebuilding):
            with application.store.unit_of_work() as uow:
                client_id = str(uuid.uuid4())
                uow.append(f"client-{client_id}", 0, CONTEXT, [registered(client_id, "X")])
        with old_store.read() as conn:  # the live tables are untouched so far
            seen["live"] = len(conn.execute(select(old_names)).all())

    read.progress = Pausing("intake", during)
    assert read.ensure_current() is True
    assert seen["state"].startswith("rebuilding: ") and "events replayed" in seen["state"]
    assert seen["transient"] is True
    assert seen["live"] == 2800  # the old release's rows, its appends included
    assert read.current and read.progress.replayed >= 2800
    assert live_rows(application.store) == expected_rows(application.store)
    assert len(expected_rows(application.store)[1]) == 2800  # none refused got in
    with application.store.read() as conn:
        assert conn.execute(select(read_model_schema_table.c.fingerprint)).scalar() \
            == new_release.fingerprint()
    # The gate is gone: this process reads and appends again.
    append_clients(application.store, 5)
    assert live_rows(application.store) == expected_rows(application.store)
    assert leftovers(application.store) == []
    application.store.engine.dispose()


def test_an_interrupted_rebuild_leaves_the_live_tables_and_the_next_one_rebuilds(old_store):
    with old_store.read() as conn:
        before = old_release.snapshot(conn)

    class Broken(Exception):
        pass

    failing = Projection(new_metadata)

    @failing.on("ClientRegistered")
    def _fails_late(conn, event):
        _name(conn, event)
        if event.data["name"] == "C1700":  # a batch in the middle of the replay
            raise Broken()

    store = EventStore(old_store.url, "intake", catalogue, failing)
    with pytest.raises(Broken):
        rebuild(store)
    with old_store.read() as conn:
        assert old_release.snapshot(conn) == before
        assert conn.execute(select(read_model_schema_table.c.fingerprint)).scalar() \
            == old_release.fingerprint()
    assert leftovers(store) == []
    store.engine.dispose()

    application = NewRelease(old_store.url)  # the next start rebuilds again
    assert application.read_models.current
    assert live_rows(application.store) == expected_rows(application.store)
    application.store.engine.dispose()


def test_a_rebuild_killed_mid_way_is_cleaned_up_by_the_next(old_store):
    """The process died between batches: its new tables stay behind, the live
    ones are untouched, and the next rebuild drops them and starts again."""
    store = EventStore(old_store.url, "intake", catalogue, new_release)

    class Killed(BaseException):  # as far as the rebuild knows, nothing runs after
        pass

    def die():
        raise Killed()

    original = read_models._SqliteShadow.discard, read_models._PostgresShadow.discard
    read_models._SqliteShadow.discard = read_models._PostgresShadow.discard = \
        lambda self: self.engine.dispose()  # a dead process cleans nothing up
    try:
        with pytest.raises(Killed):
            read_models._replay_and_swap(store, Pausing("intake", die))
    finally:
        read_models._SqliteShadow.discard, read_models._PostgresShadow.discard = original
    assert leftovers(store) != []
    with old_store.read() as conn:
        assert len(conn.execute(select(old_names)).all()) == 2500
        assert conn.execute(select(read_model_schema_table.c.fingerprint)).scalar() \
            == old_release.fingerprint()
    assert rebuild(store) == 2500
    assert leftovers(store) == []
    assert live_rows(store) == expected_rows(store)
    store.engine.dispose()


def test_an_operator_rebuild_of_the_current_shape_swaps_too(old_store):
    """`make rebuild` with nothing changed: the rows come back from the events."""
    with old_store.write() as conn:
        conn.execute(update(old_names).values(name="tampered"))
        conn.execute(delete(old_names).where(old_names.c.name == "C7"))
    assert rebuild(old_store) == 2500
    with old_store.read() as conn:
        rows = set(conn.execute(select(old_names)).all())
    assert rows == expected_rows(old_store)[0]


def test_two_replicas_starting_together_rebuild_once(postgres_url):
    store = EventStore(postgres_url, "intake", catalogue, old_release)
    store.create_schema()
    ensure_current(store)
    append_clients(store, 1500)
    store.engine.dispose()
    first = NewRelease(postgres_url, rebuild_later=True)
    second = NewRelease(postgres_url, rebuild_later=True)
    outcome = {}

    def run(name, replica):
        outcome[name] = replica.read_models.ensure_current(wait=0.1)

    def second_starts():
        threading.Thread(target=run, args=("second", second)).start()
        wait_until(lambda: second.read_models.state == "waiting" and
                   second.read_models.describe() == "waiting for another process's rebuild",
                   message="the second replica waiting for the first")

    first.read_models.progress = Pausing("intake", second_starts)
    run("first", first)
    wait_until(lambda: "second" in outcome, message="the second replica done")
    assert outcome == {"first": True, "second": False}
    assert second.read_models.current and second.read_models.progress.replayed == 0
    assert live_rows(second.store) == expected_rows(second.store)
    for replica in (first, second):
        replica.store.engine.dispose()


def test_a_process_with_current_read_models_has_no_gate(database_url):
    store = EventStore(database_url, "intake", catalogue, new_release)
    store.create_schema()
    ensure_current(store)
    state = ReadModels(store)
    assert state.current and state.describe() == "ok"
    with store.read() as conn:
        conn.execute(select(names))
    store.engine.dispose()


def test_a_new_database_is_current_when_the_process_starts(database_url):
    """Nothing to replay: the process makes its read models current before it starts
    and consumes and answers at once (a background rebuild of nothing made the
    first deliveries wait and the first requests 503)."""
    store = EventStore(database_url, "intake", catalogue, new_release)
    store.create_schema()
    state = ReadModels(store)
    assert state.current and read_models.is_current(store)
    with store.read() as conn:
        conn.execute(select(names))
    store.engine.dispose()


def test_two_processes_starting_on_one_new_database_both_start(postgres_url):
    stores = [EventStore(postgres_url, "intake", catalogue, new_release) for _ in range(2)]
    stores[0].create_schema()
    barrier, states, errors = threading.Barrier(2), [], []

    def start(store):
        barrier.wait()
        try:
            states.append(ReadModels(store).current)
        except Exception as error:  # noqa: BLE001 - the assertion names it
            errors.append(error)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and states == [True, True]
    for store in stores:
        store.engine.dispose()


def test_a_database_with_events_but_no_recorded_shape_is_rebuilt_in_the_background(database_url):
    store = EventStore(database_url, "intake", catalogue, new_release)
    store.create_schema()
    append_clients(store, 1)
    with store.write() as conn:  # an earlier release's database, before shapes were recorded
        conn.execute(delete(read_model_schema_table))
    state = ReadModels(store)
    assert not state.current and state.state == "waiting"
    store.engine.dispose()


def test_a_service_rebuilding_at_start_is_live_not_ready_and_refuses_with_503(
        database_url, amqp_uri, monkeypatch):
    """The real intake service (nameko container): a release whose read models
    differ starts, answers /livez at once and /readyz 503 naming the rebuild, and
    answers requests that need read models 503 with Retry-After, until the swap."""
    from services.intake.service import Service as Intake
    from tests.integration.test_intake_service import CLIENT
    from prometheus_client import REGISTRY

    from tests.support import RunningService, make_event, publish_event

    def waits(away):
        return REGISTRY.get_sample_value("praxis_event_handler_waits_total",
                                         {"service": "intake", "away": away}) or 0

    with RunningService(Intake, database_url, amqp_uri) as running:
        client_id = running.api.post("/clients", CLIENT).json()["client_id"]
        store = running.application.store
        with store.write() as conn:  # as an older release left it
            conn.execute(update(read_model_schema_table).values(fingerprint="older"))
    go_on = threading.Event()
    paused = threading.Event()
    advanced = Progress.advanced

    def pause_after_first_batch(self, count):
        advanced(self, count)
        if not paused.is_set():
            paused.set()
            go_on.wait()

    monkeypatch.setattr(Progress, "advanced", pause_after_first_batch)
    service = RunningService(Intake, database_url, amqp_uri)
    service.container.start()
    try:
        wait_until(paused.is_set, message="the rebuild under way")
        api = service.api
        assert api.get("/livez", bearer="").status_code == 200
        ready = api.get("/readyz", bearer="")
        assert ready.status_code == 503
        assert ready.json()["read_models"].startswith("rebuilding: ")
        assert ready.json()["database"] == "ok"
        refused = api.get(f"/clients/{client_id}")
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert "read models" in refused.json()["detail"]
        assert api.post("/clients", CLIENT).status_code == 503
        scraped = api.get("/metrics", bearer="")
        assert scraped.status_code == 200
        assert 'praxis_read_model_rebuild_events{of="stored",service="intake"}' in scraped.text
        # A foreign event waits too, put back uncounted (3 counted attempts would
        # dead-letter it here), and is applied after the swap.
        due = make_event("scheduling", "ReassessmentDue", {
            "client_id": client_id, "sessions_since_assessment": 4,
            "last_assessment_id": str(uuid.uuid4()), "reason": "every 4 sessions",
            "due_at": "2026-03-01T09:00:00Z"}, subject=f"reassessment-{client_id}")
        waited = waits("read models")
        publish_event(amqp_uri, due)
        wait_until(lambda: waits("read models") >= waited + 3, message="three uncounted waits")
        go_on.set()
        wait_until(lambda: api.get("/readyz", bearer="").status_code == 200,
                   message="ready after the swap")
        assert api.get(f"/clients/{client_id}").status_code == 200
        wait_until(lambda: due.id in {e.id for _, e in service.application.store.read_all()},
                   message="the foreign event applied after the swap")
        assert api.post("/clients", CLIENT).status_code == 201
    finally:
        go_on.set()
        service.container.stop()


def test_a_process_whose_read_models_another_release_replaced_stops_using_them(old_store):
    """A rolling update's old pod, once the new one swapped its tables in: its next
    readiness check refuses the read models (never written in the old shape)."""
    old = ReadModels(old_store)
    assert old.current
    newer = NewRelease(old_store.url)  # rebuilds and swaps its shape in
    assert newer.read_models.current
    old.check()
    assert old.state == "superseded" and not old.current
    assert old.describe().startswith("replaced by another release's")
    with pytest.raises(ReadModelsRebuilding):
        append_clients(old_store, 1)
    assert newer.read_models.describe() == "ok"
    newer.read_models.check()
    assert newer.read_models.current
    newer.store.engine.dispose()


def test_a_reader_holding_a_live_table_delays_the_swap_not_the_appends(postgres_url, caplog):
    """PostgreSQL (SQLite readers lock no table): the swap waits for a table no longer
    than its lock timeout, then rolls back (the new tables kept), lets appends through
    and tries again."""
    import logging
    old_store = written_by_the_running_release(postgres_url)
    caplog.set_level(logging.WARNING, logger="shared.projection")
    store = EventStore(old_store.url, "intake", catalogue, new_release)
    done = {}
    reader = old_store.engine.connect()
    reader.execute(select(old_names).limit(1))  # its transaction holds the table
    builder = threading.Thread(target=lambda: done.setdefault("count", rebuild(store)))
    builder.start()
    wait_until(lambda: any("swap not done" in r.getMessage() for r in caplog.records),
               timeout=120, message="the swap timed out behind the reader")
    # Appends are not held up (a writer with no read models, so the replay alone
    # puts these in the new tables).
    bare = EventStore(old_store.url, "intake", catalogue)
    append_clients(bare, 5, per_transaction=1)
    bare.engine.dispose()
    reader.rollback()
    reader.close()
    builder.join()
    assert done["count"] >= 2500
    assert live_rows(store) == expected_rows(store)
    assert len(expected_rows(store)[1]) == 2505
    assert leftovers(store) == []
    store.engine.dispose()
    old_store.engine.dispose()
