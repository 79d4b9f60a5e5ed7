"""Two of the same conflicting command at once against one intake (issue 13): exactly
one succeeds, the other is a 409, and exactly one event is appended, on SQLite and
PostgreSQL. On PostgreSQL both commands are also made to load before either saves:
then only the expected version, taken from what each loaded, tells them apart.

(On SQLite a unit of work holds the store's file lock from its first statement, so
the second command loads only after the first committed, and the domain refuses it;
making both load first would deadlock there.)"""
from datetime import date

import pytest

from services.intake import domain
from services.intake.application import IntakeApplication
from shared.auth import ALL_CLINICS, Principal
from shared.caller import Caller
from shared.errors import ConcurrencyError, Conflict
from tests.concurrency import at_once, loads_meet

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Principal("admin-1", "admin", ORG, (ALL_CLINICS,))
AT_RISK = [0, 0, 0, 0, 0, 0, 0, 0, 2]  # PHQ-9 item 9 above 0: a risk flag
WELLBEING = {"code": "WB-4", "name": "Wellbeing check", "items": ["a", "b", "c", "d"],
             "lowest": 0, "highest": 10, "higher_is_worse": False, "reversed_items": [],
             "bands": [{"low": 0, "high": 24, "label": "clinical"},
                       {"low": 25, "high": 40, "label": "non-clinical"}],
             "cut_off": 25, "sd": 8.0, "reliability": 0.8, "reliable_change_threshold": None,
             "response_drop_percent": None, "remission_below": None, "risk_items": []}


def caller(name):
    return Caller(ADMIN, name)


@pytest.fixture
def intake(database_url):
    application = IntakeApplication(database_url)
    yield application
    application.store.engine.dispose()


@pytest.fixture
def postgres_intake(postgres_url):
    application = IntakeApplication(postgres_url)
    yield application
    application.store.engine.dispose()


def registered_at_risk(intake):
    """(client id, the open risk flag of its one assessment)."""
    client_id = intake.register_client(caller("setup"), {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
        "date_of_birth": date(1990, 1, 2), "contact": {"email": "ada@example.org"}})[
        "client_id"]
    assessed = intake.assess_client(caller("setup"), client_id, {
        "instrument": "PHQ-9", "answers": AT_RISK, "assessed_at": None})
    return client_id, assessed["raised"][0]["flag_id"]


# Each: (what a command does to an intake, given its client and flag; the stream it appends to)
COMMANDS = {
    "discharge the same client twice": (
        lambda intake, who, client_id, flag_id: intake.discharge(
            who, client_id, {"reason": "planned_ending", "discharged_at": None}),
        lambda client_id: domain.Client.stream_of(client_id)),
    "acknowledge the same risk flag twice": (
        lambda intake, who, client_id, flag_id: intake.acknowledge_risk_flag(
            who, client_id, flag_id, {"action_taken": f"called by {who.correlation_id}"}),
        lambda client_id: domain.Client.stream_of(client_id)),
    "give the same consent version twice": (
        lambda intake, who, client_id, flag_id: intake.give_consent(
            who, client_id, {"kind": "treatment", "document_version": "2026-01",
                             "given_at": None}),
        lambda client_id: domain.Client.stream_of(client_id)),
    "define the same instrument version twice": (
        lambda intake, who, client_id, flag_id: intake.define_instrument(who, WELLBEING),
        lambda client_id: domain.InstrumentCatalogue.stream_of(ORG)),
}
# The domain refuses the second of these even when it loads after the first committed.
# Not so a definition: one after the other they are versions 1 and 2, both fine; only
# two that loaded the same catalogue (the forced overlap below) conflict.
REFUSED_EVEN_IN_TURN = ["discharge the same client twice", "acknowledge the same risk flag twice",
                        "give the same consent version twice"]


def one_wins(intake, name, client_id, flag_id):
    """The 409 of the one of two commands at once that lost, once the other's one
    event is the only one appended."""
    command, stream_of = COMMANDS[name]
    stream = stream_of(client_id)
    before = len(intake.store.read_stream(stream))
    outcomes = at_once(*(lambda who=who: command(intake, caller(who), client_id, flag_id)
                        for who in ("first", "second")))
    refused = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(refused) == 1, outcomes
    assert isinstance(refused[0], Conflict) and refused[0].status == 409, refused
    assert len(intake.store.read_stream(stream)) == before + 1
    return refused[0]


@pytest.mark.parametrize("name", REFUSED_EVEN_IN_TURN)
def test_one_of_two_conflicting_commands_at_once_wins(intake, name):
    # Either 409: the domain's Conflict when the loser loaded after the winner
    # committed, ConcurrencyError (a Conflict) when both loaded first.
    one_wins(intake, name, *registered_at_risk(intake))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_two_that_loaded_the_same_version_the_later_save_is_a_concurrency_error(
        postgres_intake, monkeypatch, name):
    client_id, flag_id = registered_at_risk(postgres_intake)
    loads_meet(monkeypatch)  # from here both commands load before either saves
    refused = one_wins(postgres_intake, name, client_id, flag_id)
    assert type(refused) is ConcurrencyError, refused
