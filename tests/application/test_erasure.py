"""A client's erasure at intake's application, on SQLite without a broker: refused
while the clinical record is retained (and saying until when), carried out when it is
not or the organisation's policy says so; afterwards the events stay, their sealed
fields read as erased, the client's rows are gone and a rebuild gives the same."""
from datetime import date, datetime, timezone

import pytest

from services.intake.application import IntakeApplication
from services.intake.domain import Client
from services.intake.schemas import ClinicQuery, ErasureRequestSchema
from shared.auth import ALL_CLINICS, Principal
from shared.caller import Caller
from shared.encryption import ERASED
from shared.errors import Conflict, NotFound
from shared.projection import rebuild

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Caller(Principal("admin-1", "admin", ORG, (ALL_CLINICS,)), "admin-request")
OFFICER = Caller(Principal("po-1", "privacy_officer", ORG, (ALL_CLINICS,)), "po-request")
ADULT = {"organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
         "date_of_birth": date(1990, 1, 2), "contact": {"email": "ada@example.org"}}
REQUEST = {"legal_basis": "consent_withdrawn", "reason": "The client withdrew consent"}


@pytest.fixture
def intake(tmp_path):
    application = IntakeApplication(f"sqlite:///{tmp_path}/intake.db")
    yield application
    application.store.engine.dispose()


def assessed_and_discharged(intake):
    client_id = intake.register_client(ADMIN, ADULT)["client_id"]
    intake.assess_client(ADMIN, client_id, {"instrument": "PHQ-9", "assessed_at": None,
                                            "answers": [2, 2, 2, 2, 2, 2, 2, 1, 0]})
    intake.discharge(ADMIN, client_id, {"reason": "planned_ending",
                                        "discharged_at": None})
    return client_id


def names(intake, client_id):
    return [e.name for e in intake.store.read_stream(Client.stream_of(client_id))]


def test_refused_while_in_care_and_during_retention_saying_until_when(intake):
    client_id = intake.register_client(ADMIN, ADULT)["client_id"]
    with pytest.raises(Conflict) as in_care:
        intake.request_erasure(OFFICER, client_id, REQUEST)
    assert in_care.value.fields["retained_until"] == ["an episode of care is open"]
    intake.discharge(ADMIN, client_id, {"reason": "planned_ending", "discharged_at": None})
    today = datetime.now(timezone.utc).date()
    until = today.replace(year=today.year + 7, day=min(today.day, 28)).isoformat() \
        if (today.month, today.day) == (2, 29) else today.replace(year=today.year + 7).isoformat()
    with pytest.raises(Conflict, match=f"retained until {until}") as retained:
        intake.request_erasure(OFFICER, client_id, REQUEST)
    assert retained.value.fields["retained_until"] == [until]
    assert names(intake, client_id)[2:] == [
        "ClientErasureRequested", "ClientErasureRefused", "ClientDischarged",
        "ClientErasureRequested", "ClientErasureRefused"]
    refused = intake.store.read_stream(Client.stream_of(client_id))[-1]
    assert refused.data["retained_until"] == until
    # Nothing was erased: the record reads as before.
    assert intake.client(ADMIN.principal, client_id)["name"] == "Ada Lovelace"


def test_erased_after_retention_or_when_the_policy_allows(intake, monkeypatch):
    discharged = assessed_and_discharged(intake)
    with pytest.raises(Conflict):
        intake.request_erasure(OFFICER, discharged, REQUEST)
    monkeypatch.setenv("PRAXIS_CLINICAL_RETENTION_YEARS", "0")  # retention has run out
    assert intake.request_erasure(OFFICER, discharged, REQUEST)["status"] == "erased"
    in_care = intake.register_client(ADMIN, ADULT)["client_id"]
    with pytest.raises(Conflict):
        intake.request_erasure(OFFICER, in_care, REQUEST)
    monkeypatch.setenv("PRAXIS_ERASURE_DURING_RETENTION", "true")
    assert intake.request_erasure(ADMIN, in_care, REQUEST)["status"] == "erased"


def test_after_erasure_events_stay_fields_read_erased_and_nothing_answers(
        intake, monkeypatch):
    monkeypatch.setenv("PRAXIS_ERASURE_DURING_RETENTION", "true")
    client_id = assessed_and_discharged(intake)
    kept = intake.register_client(ADMIN, {**ADULT, "name": "Grace Hopper"})["client_id"]
    intake.request_erasure(OFFICER, client_id, REQUEST)
    events = intake.store.read_stream(Client.stream_of(client_id))
    assert [e.name for e in events] == [
        "ClientRegistered", "EpisodeOpened", "ClientAssessed", "ClientDischarged",
        "ClientErasureRequested", "ClientErased"]
    registered, _, assessed, _, requested, erased = events
    assert registered.data["name"] == registered.data["contact"] == ERASED
    assert assessed.data["answers"] == ERASED and assessed.data["total"] == 15
    assert requested.data["reason"] == ERASED
    assert requested.data["legal_basis"] == erased.data["legal_basis"] == "consent_withdrawn"
    assert set(erased.data) == {"client_id", "request_id", "legal_basis", "erased_at",
                                "erased_by"}
    for read in (intake.client, intake.consents, intake.fhir_everything):
        with pytest.raises(NotFound):
            read(ADMIN.principal, client_id)
    assert client_id not in str(intake.directory(ADMIN.principal, ClinicQuery().load(
        {"clinic_id": CLINIC})))
    # A second request finds no client; the other client is untouched.
    with pytest.raises(NotFound):
        intake.request_erasure(OFFICER, client_id, REQUEST)
    assert intake.client(ADMIN.principal, kept)["name"] == "Grace Hopper"


def test_a_rebuild_after_erasure_gives_the_erased_state(intake, monkeypatch):
    monkeypatch.setenv("PRAXIS_ERASURE_DURING_RETENTION", "true")
    client_id = assessed_and_discharged(intake)
    intake.register_client(ADMIN, {**ADULT, "name": "Grace Hopper"})
    intake.request_erasure(OFFICER, client_id, REQUEST)
    with intake.store.read() as conn:
        erased_state = intake.projection.snapshot(conn)
    assert client_id not in repr(erased_state)
    rebuild(intake.store)
    with intake.store.read() as conn:
        assert intake.projection.snapshot(conn) == erased_state


@pytest.mark.parametrize("command, field", [
    ({"reason": "x"}, "legal_basis"),
    ({"legal_basis": "because", "reason": "x"}, "legal_basis"),
    ({"legal_basis": "objection"}, "reason"),
    ({"legal_basis": "objection", "reason": ""}, "reason"),
])
def test_a_request_names_the_field_it_lacks(command, field):
    problems = ErasureRequestSchema().validate(command)
    assert field in problems
