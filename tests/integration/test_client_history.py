"""Scheduling's and notes' client rows come out the same whatever order intake's
ClientRegistered and ClientDetailsUpdated arrive in (shared/client_history.py): an
update that comes first is kept and applied when the registration arrives."""
import itertools
import tempfile
import uuid

import pytest
from sqlalchemy import select

from services.notes.application import NotesApplication
from services.notes.read_models.chart import clients as notes_clients
from services.scheduling.application import SchedulingApplication
from services.scheduling.read_models.clients import clients as scheduling_clients
from tests.support import make_event

pytestmark = pytest.mark.integration


def history(client_id):
    subject = f"client-{client_id}"
    return [
        make_event("intake", "ClientRegistered", {
            "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org"}, "registered_at": "2026-11-02T09:00:00Z",
            "details_revision": 1}, subject, sequence=1),
        make_event("intake", "ClientDetailsUpdated", {
            "client_id": client_id, "changes": {"name": "Ada King", "preferred_name": "Ada"},
            "updated_at": "2026-11-03T09:00:00Z", "details_revision": 2}, subject, sequence=3),
        make_event("intake", "ClientDetailsUpdated", {
            "client_id": client_id, "changes": {"name": "Ada Byron"},
            "updated_at": "2026-11-04T09:00:00Z", "details_revision": 3}, subject, sequence=4),
    ]


@pytest.mark.parametrize("application_class, table, columns", [
    (SchedulingApplication, scheduling_clients, ("name", "preferred_name", "details_revision")),
    (NotesApplication, notes_clients, ("name",)),
])
def test_every_order_gives_the_latest_details(application_class, table, columns):
    client_id = str(uuid.uuid4())
    events = history(client_id)
    expected = {"name": "Ada Byron", "preferred_name": "Ada", "details_revision": 3}
    for order in itertools.permutations(events):
        with tempfile.TemporaryDirectory() as folder:
            application = application_class(f"sqlite:///{folder}/store.db")
            for event in order:
                application.consume(event.to_dict())
            with application.store.read() as conn:
                row = conn.execute(select(table).where(
                    table.c.client_id == client_id)).one()._asdict()
            application.store.engine.dispose()
        assert {c: row[c] for c in columns} == {c: expected[c] for c in columns}, order
