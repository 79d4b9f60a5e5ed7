"""The aggregate base and the unit of work as its repository (shared/aggregate.py)."""
from dataclasses import dataclass

import pytest

from shared.aggregate import Aggregate
from shared.auth import Principal
from shared.caller import Caller
from shared.envelope import Context, Event, NewEvent
from shared.errors import ConcurrencyError
from shared.events import catalogue
from shared.store import EventStore


@dataclass
class Client(Aggregate):
    STREAM = "client-{}"
    client_id: str
    version: int = 0
    name: str = None
    renamed: int = 0

    def _on_ClientRegistered(self, event, data):
        self.name = data["name"]

    def _on_ClientDetailsUpdated(self, event, data):
        self.name = data["changes"].get("name", self.name)
        self.renamed += 1


def _event(name, sequence, data):
    return Event(id=f"e{sequence}", source="/praxis/intake", type=f"praxis.intake.{name}.v1",
                 subject="c1", time="2026-01-01T00:00:00Z", data=data, sequence=sequence,
                 organisationid="org", clinicid="clinic", correlationid="k")


def test_from_events_folds_handled_events_and_counts_every_version():
    client = Client.from_events("c1", [
        _event("ClientRegistered", 1, {"name": "Ada"}),
        _event("EpisodeOpened", 2, {}),  # not handled: only the version moves
        _event("ClientDetailsUpdated", 3, {"changes": {"name": "Ada L."}}),
    ])
    assert (client.name, client.renamed, client.version) == ("Ada L.", 1, 3)
    assert client.stream_id == "client-c1" and client.exists
    assert not Client.from_events("c2", []).exists


CLIENT = "9a3e6f7c-2b1d-4c5e-8f90-1a2b3c4d5e6f"


def _register(name):
    return NewEvent("ClientRegistered", {
        "client_id": CLIENT, "name": name, "registered_at": "2026-01-01T00:00:00Z",
        "date_of_birth": "1990-01-01", "contact": {"email": "a@example.org"}})


@pytest.fixture
def store(tmp_path):
    store = EventStore(f"sqlite:///{tmp_path}/store.db", "intake", catalogue)
    store.create_schema()
    return store


def test_save_appends_at_the_loaded_version_and_a_stale_aggregate_gets_409(store):
    context = Context("org", "clinic")
    with store.unit_of_work() as uow:
        client = uow.get(Client, CLIENT)
        assert client.version == 0
        uow.save(client, context, [_register("Ada")])
        assert (client.version, client.name) == (1, "Ada")  # saved events are applied
    with store.unit_of_work() as uow:
        stale = uow.get(Client, CLIENT)
    with store.unit_of_work() as uow:
        fresh = uow.get(Client, CLIENT)
        uow.save(fresh, context, [NewEvent("ClientDetailsUpdated", {
            "client_id": CLIENT, "changes": {"name": "Ada L."}, "details_revision": 2,
            "updated_at": "2026-01-02T00:00:00Z"})])
    with pytest.raises(ConcurrencyError):
        with store.unit_of_work() as uow:
            uow.save(stale, context, [NewEvent("ClientDetailsUpdated", {
                "client_id": CLIENT, "changes": {"name": "Lost"}, "details_revision": 2,
                "updated_at": "2026-01-02T00:00:00Z"})])
    with store.unit_of_work() as uow:
        assert uow.get(Client, CLIENT).name == "Ada L."
        assert uow.save(uow.get(Client, CLIENT), context, []) == []  # nothing decided


def test_a_caller_stamps_its_correlation_and_user():
    principal = Principal("u-1", "clinician", "org", ("clinic",))
    context = Caller(principal, "corr-1").context_of({"organisation_id": "org",
                                                      "clinic_id": "clinic"})
    assert (context.organisation_id, context.clinic_id, context.correlation_id,
            context.actor) == ("org", "clinic", "corr-1", "u-1")
