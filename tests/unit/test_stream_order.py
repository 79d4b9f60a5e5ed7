"""Per stream, a consumed event is applied only after the one before it (issue 13):
the envelope's previoussequence, and the store's rule on a SQLite file."""
import json
import uuid
from datetime import timedelta

import pytest

from shared.application import Application
from shared.deferred import held_table
from shared.envelope import SEQUENCE_DIGITS, Context, Event, NewEvent
from shared.errors import InvalidEvent
from shared.events import catalogue
from shared.store import EventStore, events_table, foreign_positions_table
from shared.subscriptions import Subscriptions
from shared.timeutil import utc_now
from tests.support import make_event


def detailed(client_id, sequence, previous):
    return event_of("ClientDetailsUpdated", {
        "client_id": client_id, "changes": {"name": f"Ada {sequence}"},
        "updated_at": "2026-01-01T09:00:00Z", "details_revision": sequence},
        client_id, sequence, previous)


def event_of(name, data, client_id, sequence, previous):
    event = make_event("intake", name, data, f"client-{client_id}", sequence=sequence)
    return Event(**{**event.__dict__, "previoussequence": previous})


def registered(client_id):
    return event_of("ClientRegistered", {
        "client_id": client_id, "name": "Ada", "date_of_birth": "1990-01-02", "contact": {},
        "registered_at": "2026-01-01T09:00:00Z"}, client_id, 1, 0)


def episode(client_id, sequence, previous):
    return event_of("EpisodeOpened", {"client_id": client_id, "episode_id": str(uuid.uuid4()),
                                      "opened_at": "2026-01-01T09:00:00Z"},
                    client_id, sequence, previous)


# -- the envelope -------------------------------------------------------------------
def test_previoussequence_travels_zero_padded_and_is_absent_when_unknown():
    event = detailed(str(uuid.uuid4()), 4, 2)
    body = json.loads(event.to_json())
    assert body["previoussequence"] == "2".zfill(SEQUENCE_DIGITS)
    assert Event.from_dict(body).previoussequence == 2
    del body["previoussequence"]  # stored by a release that did not stamp it
    assert Event.from_dict(body).previoussequence is None
    assert "previoussequence" not in Event.from_dict(body).to_dict()


@pytest.mark.parametrize("value", ["4", "9", "-1", 3, "x"])
def test_a_previoussequence_not_below_the_sequence_or_not_decimal_is_refused(value):
    body = json.loads(detailed(str(uuid.uuid4()), 4, 2).to_json())
    body["previoussequence"] = value
    with pytest.raises(ValueError, match="previoussequence"):
        Event.from_dict(body)


# -- the store ------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    store = EventStore(f"sqlite:///{tmp_path}/store.db", "billing", catalogue)
    store.create_schema()
    yield store
    store.engine.dispose()


def record(store, event, subscribed=True):
    with store.unit_of_work() as uow:
        return uow.record_foreign(event, subscribed=subscribed)


def test_an_event_is_taken_only_right_after_its_predecessor(store):
    client_id = str(uuid.uuid4())
    assert record(store, detailed(client_id, 3, 2)) == "gap"  # nothing of it kept
    assert store.read_all() == []
    assert record(store, registered(client_id)) == "applied"
    assert record(store, detailed(client_id, 3, 2)) == "gap"
    assert record(store, detailed(client_id, 2, 1)) == "applied"
    assert record(store, detailed(client_id, 3, 2)) == "applied"
    assert [e.sequence for _, e in store.read_all()] == [1, 2, 3]


def test_the_first_event_seen_of_a_stream_waits_unless_it_is_the_first_published(store):
    """Versions before it were published before this consumer's queue existed, or
    lost: a gap, not a start."""
    assert record(store, detailed(str(uuid.uuid4()), 5, 4)) == "gap"
    assert record(store, registered(str(uuid.uuid4()))) == "applied"


def test_an_event_the_service_does_not_take_is_kept_by_its_position_only(store):
    client_id = str(uuid.uuid4())
    record(store, registered(client_id))
    assert record(store, episode(client_id, 2, 1), subscribed=False) == "applied"
    assert record(store, episode(client_id, 2, 1), subscribed=False) == "duplicate"
    with store.read() as conn:
        assert len(conn.execute(events_table.select()).all()) == 1
        assert conn.execute(foreign_positions_table.select()).all() == [
            (f"intake/client-{client_id}", 2)]
    assert record(store, detailed(client_id, 3, 2)) == "applied"


def test_a_version_already_passed_is_a_duplicate_unless_another_event_holds_it(store):
    client_id = str(uuid.uuid4())
    first = registered(client_id)
    record(store, first)
    record(store, detailed(client_id, 2, 1))
    assert record(store, first) == "duplicate"
    impostor = event_of("ClientDetailsUpdated", detailed(client_id, 2, 1).data, client_id, 2, 1)
    with pytest.raises(InvalidEvent, match="already holds"):
        record(store, impostor)


def test_an_event_following_a_version_the_stream_is_past_is_refused(store):
    client_id = str(uuid.uuid4())
    record(store, registered(client_id))
    record(store, detailed(client_id, 2, 1))
    with pytest.raises(InvalidEvent, match="past the version 1"):
        record(store, detailed(client_id, 4, 1))


def test_an_envelope_without_previoussequence_is_taken_on_arrival_as_before(store):
    """Stored by a release that did not stamp it: what came before is unknown."""
    client_id = str(uuid.uuid4())
    legacy = Event(**{**detailed(client_id, 3, 2).__dict__, "previoussequence": None})
    assert record(store, legacy) == "applied"


def test_appending_stamps_the_published_version_before_each_published_event(tmp_path):
    """A progress note's drafts are private: NoteSigned follows ProgressNoteOpened."""
    store = EventStore(f"sqlite:///{tmp_path}/notes.db", "notes", catalogue)
    store.create_schema()
    ids = {name: str(uuid.uuid4()) for name in ("note", "appointment", "client")}
    at = "2026-01-01T10:00:00Z"
    opened = NewEvent("ProgressNoteOpened", {
        "note_id": ids["note"], "appointment_id": ids["appointment"],
        "client_id": ids["client"], "clinician_id": "clin-1", "session_start": at,
        "opened_at": at})
    drafted = NewEvent("ProgressNoteDrafted", {
        "note_id": ids["note"], "appointment_id": ids["appointment"],
        "client_id": ids["client"], "format": "SOAP", "sections": {"S": "s"},
        "saved_by": "clin-1", "saved_at": at})
    signed = NewEvent("NoteSigned", {
        "note_id": ids["note"], "appointment_id": ids["appointment"],
        "client_id": ids["client"], "clinician_id": "clin-1", "format": "SOAP",
        "signed_by": "clin-1", "signed_at": at, "pending_supervision": False})
    context = Context("org-1", "clinic-1")
    with store.unit_of_work() as uow:
        uow.append("progress-note-x", 0, context, [opened, drafted])
    with store.unit_of_work() as uow:
        uow.append("progress-note-x", 2, context, [drafted, signed])
    stamped = [(e.name, e.sequence, e.previoussequence)
               for e in store.read_stream("progress-note-x")]
    assert stamped == [("ProgressNoteOpened", 1, 0), ("ProgressNoteDrafted", 2, None),
                       ("ProgressNoteDrafted", 3, None), ("NoteSigned", 4, 1)]
    store.engine.dispose()


# -- the application: held events resume in the stream's order -----------------------
class Recorder(Application):
    service = "billing"
    subscriptions = Subscriptions({("intake", "ClientRegistered"): "note",
                                   ("intake", "ClientDetailsUpdated"): "note"})

    def __init__(self, url):
        super().__init__(url)
        self.applied = []

    def note(self, uow, event, context):
        self.applied.append(event.sequence)


def test_an_event_not_taken_that_comes_early_is_held_by_its_position_alone(tmp_path):
    client_id = str(uuid.uuid4())
    one, two = registered(client_id), detailed(client_id, 2, 1)
    three, four = episode(client_id, 3, 2), detailed(client_id, 4, 3)
    application = Recorder(f"sqlite:///{tmp_path}/billing.db")
    assert [application.consume(e.to_dict()) for e in (one, three, four, three)] == \
        ["applied", "deferred", "deferred", "duplicate"]
    with application.store.read() as conn:
        held = {r.event_id: r.envelope for r in conn.execute(held_table.select())}
    assert held[three.id] is None and held[four.id] is not None  # no payload of three
    assert [r["reason"] for r in application.deferred_reactions()] == ["gap", "gap"]
    assert application.consume(two.to_dict()) == "applied"
    assert application.applied == [1, 2, 4] and application.deferred_reactions() == []
    assert [e.id for _, e in application.store.read_all()] == [one.id, two.id, four.id]


def test_a_held_event_past_the_wait_is_dead_lettered_and_forgotten(tmp_path, monkeypatch):
    monkeypatch.setenv("PRAXIS_GAP_WAIT_SECONDS", "60")
    client_id = str(uuid.uuid4())
    application = Recorder(f"sqlite:///{tmp_path}/billing.db")
    application.consume(registered(client_id).to_dict())
    late = detailed(client_id, 3, 2)
    application.consume(late.to_dict())
    parked = []

    def park(producer, envelope, detail):
        parked.append((producer, json.loads(envelope)["id"], detail))

    assert application.dead_letter_gaps(park, now=utc_now() + timedelta(seconds=30)) == 0
    assert application.dead_letter_gaps(park, now=utc_now() + timedelta(seconds=61)) == 1
    ((producer, event_id, detail),) = parked
    assert (producer, event_id) == ("intake", late.id)
    assert detail.startswith(f"gap: intake/client-{client_id} version 3 waited 60s for version 2")
    assert application.deferred_reactions() == [] and application.applied == [1]
    assert application.consume(late.to_dict()) == "deferred"  # a replay is taken afresh


def test_an_operator_accepting_a_gap_applies_what_waited_behind_it(tmp_path):
    """Versions published before the queue existed will never come: on the operator's
    word (`python -m shared.cli accept-gap`), never on a guess."""
    client_id = str(uuid.uuid4())
    stream_id = f"intake/client-{client_id}"
    application = Recorder(f"sqlite:///{tmp_path}/billing.db")
    application.consume(detailed(client_id, 5, 4).to_dict())
    application.consume(detailed(client_id, 6, 5).to_dict())
    assert application.applied == []
    assert application.accept_gap(stream_id, 3) == 0  # 5 still waits for 4
    assert application.accept_gap(stream_id, 4) == 2
    assert application.applied == [5, 6] and application.deferred_reactions() == []
    assert application.accept_gap(stream_id, 4) == 0  # passed already


def test_the_accept_gap_command_passes_the_stream_in_the_service_store(tmp_path, monkeypatch,
                                                                       capsys):
    from shared import cli

    monkeypatch.setenv("PRAXIS_BILLING_DATABASE_URL", f"sqlite:///{tmp_path}/billing.db")
    assert cli.main(["accept-gap", "billing", "intake/client-x", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "stream": "intake/client-x", "passed_to": 2, "applied": 0}
    store = EventStore(f"sqlite:///{tmp_path}/billing.db", "billing", catalogue)
    with store.unit_of_work() as uow:
        assert uow.stream_head("intake/client-x") == 2
    store.engine.dispose()


def test_another_event_at_a_held_position_is_refused_for_good(tmp_path):
    client_id = str(uuid.uuid4())
    application = Recorder(f"sqlite:///{tmp_path}/billing.db")
    assert application.consume(detailed(client_id, 3, 2).to_dict()) == "deferred"
    impostor = detailed(client_id, 3, 2)  # same position, another id
    with pytest.raises(InvalidEvent, match="is held for event"):
        application.consume(impostor.to_dict())
    assert len(application.deferred_reactions()) == 1
