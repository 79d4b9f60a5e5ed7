"""Intake's application on its own: IntakeApplication on a SQLite file, no broker and
no nameko. Its commands and their refusals, the read side they leave behind, and
scheduling's events fed as envelopes through consume(), as the consumer hands them over."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from services.intake import domain
from services.intake.application import IntakeApplication
from shared.auth import ALL_CLINICS, Principal
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.order_independence import published

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Caller(Principal("admin-1", "admin", ORG, (ALL_CLINICS,)), "admin-request")
CLINIC_ADMIN = Caller(Principal("admin-2", "admin", ORG, (CLINIC,)), "clinic-admin-request")
CLINICIAN = Caller(Principal("clin-1", "clinician", ORG, (CLINIC,)), "clinician-request")
ELSEWHERE = Caller(Principal("admin-9", "admin", "org-2", (ALL_CLINICS,)), "elsewhere")
ADULT = {"organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
         "date_of_birth": date(1990, 1, 2), "contact": {"email": "ada@example.org"}}
MODERATE = [2, 2, 2, 2, 2, 2, 2, 1, 0]  # PHQ-9 15, item 9 at 0
BETTER = [1, 1, 1, 1, 1, 0, 0, 0, 0]   # PHQ-9 5: reliably better, out of the clinical range
WORSE = [3, 3, 3, 3, 3, 3, 3, 2, 0]    # PHQ-9 23: reliably worse
AT_RISK = [0, 0, 0, 0, 0, 0, 0, 0, 1]  # item 9 above 0


@pytest.fixture
def intake(tmp_path):
    application = IntakeApplication(f"sqlite:///{tmp_path}/intake.db")
    yield application
    application.store.engine.dispose()


def register(intake, **details):
    return intake.register_client(ADMIN, {**ADULT, **details})["client_id"]


def stream(intake, client_id):
    return intake.store.read_stream(domain.Client.stream_of(client_id))


def names(intake, client_id):
    return [e.name for e in stream(intake, client_id)]


def assess(intake, client_id, answers, caller=ADMIN, **command):
    return intake.assess_client(caller, client_id, {
        "instrument": "PHQ-9", "answers": answers, "assessed_at": None, **command})


def session_held(client_id, number, clinic=CLINIC, clinician="clin-1"):
    """scheduling's SessionHeld as its store publishes it."""
    appointment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{client_id}/{number}"))
    start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc) + timedelta(days=7 * number)
    return published("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id, "clinician_id": clinician,
        "start": start.isoformat(), "minutes": 50, "modality": "video",
        "session_type": "individual", "place_of_service": "elsewhere", "audio_only": False,
        "episode_id": None, "session_number": number}, f"appointment-{appointment_id}", 2,
        start + timedelta(minutes=50), ORG, clinic)


# -- clients -------------------------------------------------------------------------

def test_registration_opens_an_episode_under_the_callers_correlation(intake):
    registered = intake.register_client(ADMIN, ADULT)
    client_id = registered["client_id"]
    events = stream(intake, client_id)
    assert [(e.name, e.sequence) for e in events] == [("ClientRegistered", 1),
                                                      ("EpisodeOpened", 2)]
    assert {(e.organisationid, e.clinicid, e.correlationid) for e in events} == {
        (ORG, CLINIC, "admin-request")}
    view = intake.client(ADMIN.principal, client_id)
    assert (view["name"], view["episode"]["episode_id"], view["episode"]["status"]) == (
        "Ada Lovelace", registered["episode_id"], "open")


def test_registration_refusals_append_nothing(intake):
    with pytest.raises(InvalidInput) as minor:
        intake.register_client(ADMIN, {**ADULT, "date_of_birth": date(2020, 1, 1)})
    assert list(minor.value.fields) == ["guardian"]
    with pytest.raises(InvalidInput) as unreachable:
        intake.register_client(ADMIN, {**ADULT, "contact": {}})
    assert list(unreachable.value.fields) == ["contact"]
    with pytest.raises(Forbidden):
        intake.register_client(CLINIC_ADMIN, {**ADULT, "clinic_id": "clinic-2"})
    assert intake.store.read_all() == []


def test_details_update_only_what_differs(intake):
    client_id = register(intake)
    view = intake.update_client(ADMIN, client_id, {"preferred_name": "Ada", "pronouns": "she"})
    assert (view["preferred_name"], view["pronouns"]) == ("Ada", "she")
    intake.update_client(ADMIN, client_id, {"preferred_name": "Ada"})  # nothing differs
    assert names(intake, client_id) == ["ClientRegistered", "EpisodeOpened",
                                        "ClientDetailsUpdated"]
    assert stream(intake, client_id)[-1].data["details_revision"] == 2
    with pytest.raises(InvalidInput):
        intake.update_client(ADMIN, client_id, {"name": ""})
    with pytest.raises(NotFound):  # another organisation's client does not exist for you
        intake.update_client(ELSEWHERE, client_id, {"preferred_name": "A."})
    with pytest.raises(NotFound):
        intake.update_client(ADMIN, "00000000-0000-4000-8000-000000000000", {"pronouns": "x"})
    assert len(stream(intake, client_id)) == 3


def test_consent_given_refused_twice_revoked_and_given_again(intake):
    client_id = register(intake)
    given = {"kind": "telehealth", "document_version": "2026-01", "given_at": None}
    consents = intake.give_consent(ADMIN, client_id, given)
    assert [(c["kind"], c["status"]) for c in consents["consents"]] == [("telehealth", "given")]
    with pytest.raises(Conflict):
        intake.give_consent(ADMIN, client_id, given)
    consents = intake.revoke_consent(ADMIN, client_id, "telehealth", {"revoked_at": None})
    assert [c["status"] for c in consents["consents"]] == ["revoked"]
    with pytest.raises(Conflict):
        intake.revoke_consent(ADMIN, client_id, "telehealth", {"revoked_at": None})
    consents = intake.give_consent(ADMIN, client_id, given)
    assert [(c["status"], c["revoked_at"]) for c in consents["consents"]] == [("given", None)]
    assert [h["action"] for h in consents["history"]] == ["given", "revoked", "given"]
    # Each counts in the details revision, as a change of details does: a fee waits for it
    assert [(e.name, e.data["details_revision"]) for e in stream(intake, client_id)
            if e.name.startswith("Consent")] == \
        [("ConsentGiven", 2), ("ConsentRevoked", 3), ("ConsentGiven", 4)]
    intake.update_client(ADMIN, client_id, {"pronouns": "she"})
    assert stream(intake, client_id)[-1].data["details_revision"] == 5


def test_discharge_and_a_new_episode(intake):
    client_id = register(intake)
    with pytest.raises(Conflict):
        intake.open_episode(ADMIN, client_id, {"opened_at": None})
    first = intake.client(ADMIN.principal, client_id)["episode"]["episode_id"]
    with pytest.raises(InvalidInput):  # before the episode opened
        intake.discharge(ADMIN, client_id, {"reason": "planned_ending",
                                            "discharged_at": datetime(2020, 1, 1,
                                                                      tzinfo=timezone.utc)})
    discharged = intake.discharge(ADMIN, client_id, {"reason": "planned_ending",
                                                     "discharged_at": None})
    assert (discharged["episode_id"], discharged["status"]) == (first, "discharged")
    with pytest.raises(Conflict):
        intake.discharge(ADMIN, client_id, {"reason": "dropped_out", "discharged_at": None})
    with pytest.raises(Conflict):
        assess(intake, client_id, MODERATE)
    opened = intake.open_episode(ADMIN, client_id, {"opened_at": None})
    view = intake.client(ADMIN.principal, client_id)
    assert [e["status"] for e in view["episodes"]] == ["discharged", "open"]
    assert view["episode"]["episode_id"] == opened["episode_id"] != first


# -- measurement ---------------------------------------------------------------------

def test_a_risk_item_raises_a_flag_a_clinician_acknowledges_once(intake):
    client_id = register(intake)
    assessed = assess(intake, client_id, AT_RISK)
    assert assessed["kind"] == "initial" and assessed["change"] is None
    (raised,) = assessed["raised"]
    assert raised["event"] == "RiskFlagRaised"
    listed = intake.risk_flags(ADMIN.principal, CLINIC, {"status": "open", "limit": 50,
                                                         "offset": 0})
    assert [f["flag_id"] for f in listed["risk_flags"]] == [raised["flag_id"]]
    acknowledged = intake.acknowledge_risk_flag(ADMIN, client_id, raised["flag_id"],
                                                {"action_taken": "safety plan reviewed"})
    assert acknowledged["acknowledged_by"] == "admin-1"
    with pytest.raises(Conflict):
        intake.acknowledge_risk_flag(ADMIN, client_id, raised["flag_id"],
                                     {"action_taken": "again"})
    with pytest.raises(NotFound):
        intake.acknowledge_risk_flag(ADMIN, client_id, "00000000-0000-4000-8000-000000000001",
                                     {"action_taken": "none"})
    assert intake.refresh_gauges() == {(ORG, CLINIC): 0}


def test_a_reassessment_carries_the_change_against_the_episodes_baseline(intake):
    client_id = register(intake)
    baseline = assess(intake, client_id, MODERATE)
    assert (baseline["total"], baseline["kind"]) == (15, "initial")
    better = assess(intake, client_id, BETTER)
    assert better["kind"] == "reassessment" and better["raised"] == []
    assert better["change"]["baseline_assessment_id"] == baseline["assessment_id"]
    assert (better["change"]["difference"], better["change"]["category"]) == (-10, "recovered")
    worse = assess(intake, client_id, WORSE)
    assert worse["change"]["category"] == "reliably_deteriorated"
    assert [(r["event"], r.get("rule")) for r in worse["raised"]] == [
        ("ReliableDeteriorationDetected", None),
        ("NotOnTrackFlagged", "reliable_deterioration"),
        ("NotOnTrackFlagged", "reassessments_without_improvement=2")]  # the default rule
    trajectory = intake.trajectory(ADMIN.principal, client_id, {"episode_id": None})
    (course,) = trajectory["instruments"]
    assert [p["total"] for p in course["points"]] == [15, 5, 23]
    with pytest.raises(InvalidInput) as incomplete:
        assess(intake, client_id, MODERATE[:8])
    assert "answers.9" in incomplete.value.fields
    with pytest.raises(InvalidInput):
        assess(intake, client_id, MODERATE, instrument="BDI-II")


def test_an_organisations_instrument_and_the_clinics_rule(intake):
    definition = {"code": "WB-4", "name": "Wellbeing check", "items": ["a", "b", "c", "d"],
                  "lowest": 0, "highest": 10, "higher_is_worse": False, "reversed_items": [],
                  "bands": [{"low": 0, "high": 24, "label": "clinical"},
                            {"low": 25, "high": 40, "label": "non-clinical"}],
                  "cut_off": 25, "sd": 8.0, "reliability": 0.8,
                  "reliable_change_threshold": None, "response_drop_percent": None,
                  "remission_below": None, "risk_items": []}
    assert intake.define_instrument(ADMIN, definition)["versions"] == [1]
    assert intake.define_instrument(ADMIN, {**definition, "name": "Wellbeing, v2"})[
        "versions"] == [1, 2]
    with pytest.raises(Forbidden):  # organisation-wide: an admin of one clinic may not
        intake.define_instrument(CLINIC_ADMIN, definition)
    with pytest.raises(InvalidInput):
        intake.define_instrument(ADMIN, {**definition, "cut_off": 99})
    catalogue = intake.store.read_stream(domain.InstrumentCatalogue.stream_of(ORG))
    assert [e.data["version"] for e in catalogue] == [1, 2]

    settings = {"reassessments_without_improvement": None, "sessions_without_improvement": 4,
                "on_reliable_deterioration": False}
    assert intake.not_on_track_rule(CLINIC_ADMIN.principal, CLINIC)["default"] is True
    rule = intake.set_not_on_track_rule(CLINIC_ADMIN, CLINIC, settings)
    assert ({k: rule[k] for k in settings}, rule["default"], rule["set_by"]) == (
        settings, False, "admin-2")
    with pytest.raises(Forbidden):
        intake.set_not_on_track_rule(CLINIC_ADMIN, "clinic-2", settings)


# -- care team -----------------------------------------------------------------------

def clinicians_clients(intake):
    """The clients the clinician's directory lists: those they care for."""
    page = intake.directory(CLINICIAN.principal, {"clinic_id": CLINIC, "name": None,
                                                  "status": None, "limit": 50, "offset": 0})
    return [c["client_id"] for c in page["clients"]]


def test_the_care_team_decides_which_clinician_reaches_the_client(intake):
    client_id = register(intake)
    assert clinicians_clients(intake) == []
    team = intake.add_care_team_member(ADMIN, client_id, {"clinician_id": "clin-1"})
    assert [(m["clinician_id"], m["why"]) for m in team["care_team"]] == [("clin-1", "added")]
    intake.add_care_team_member(ADMIN, client_id, {"clinician_id": "clin-1"})  # already on it
    assert names(intake, client_id).count("CareTeamMemberAdded") == 1
    assert clinicians_clients(intake) == [client_id]
    assert intake.remove_care_team_member(ADMIN, client_id, "clin-1")["care_team"] == []
    with pytest.raises(NotFound):
        intake.remove_care_team_member(ADMIN, client_id, "clin-1")
    assert clinicians_clients(intake) == []


def test_break_glass_needs_a_reason_and_opens_the_record_for_a_while(intake):
    client_id = register(intake)
    with pytest.raises(InvalidInput):
        intake.grant_break_glass(CLINICIAN, client_id, {"reason": "  "}, 60)
    granted = intake.grant_break_glass(CLINICIAN, client_id, {"reason": "crisis call"}, 60)
    assert (granted["clinician_id"], granted["reason"]) == ("clin-1", "crisis call")
    (member,) = intake.care_team(ADMIN.principal, client_id)["care_team"]
    assert (member["clinician_id"], member["why"], member["until"]) == (
        "clin-1", "break_glass", granted["expires_at"])
    assert clinicians_clients(intake) == []  # break-glass opens the record, not the lists
    with pytest.raises(NotFound):  # tenancy still holds
        intake.grant_break_glass(ELSEWHERE, client_id, {"reason": "curious"}, 60)
    grants = intake.break_glass_grants(ADMIN.principal, CLINIC, {"limit": 50, "offset": 0})
    assert [g["reason"] for g in grants["break_glass"]] == ["crisis call"]


# -- reactions -----------------------------------------------------------------------

def test_the_session_limit_flags_not_on_track_in_reaction_to_sessionheld(intake):
    intake.set_not_on_track_rule(ADMIN, CLINIC, {
        "reassessments_without_improvement": None, "sessions_without_improvement": 2,
        "on_reliable_deterioration": True})
    client_id = register(intake)
    assess(intake, client_id, MODERATE)
    assert intake.consume(session_held(client_id, 1).to_dict()) == "applied"
    assert names(intake, client_id)[-1] == "ClientAssessed"  # below the limit
    second = session_held(client_id, 2)
    assert intake.consume(second.to_dict()) == "applied"
    flagged = stream(intake, client_id)[-1]
    assert (flagged.name, flagged.data["rule"]) == ("NotOnTrackFlagged",
                                                    "sessions_without_improvement=2")
    # The reaction's context is the kernel's, caused by the event it reacted to.
    assert (flagged.causationid, flagged.correlationid) == (second.id, second.correlationid)
    assert intake.consume(second.to_dict()) == "duplicate"
    assert intake.consume(session_held(client_id, 3).to_dict()) == "applied"
    assert names(intake, client_id).count("NotOnTrackFlagged") == 1  # once per episode
    # The session's clinician now cares for the client (shared/care_team.py).
    assert clinicians_clients(intake) == [client_id]


def test_a_session_of_another_clinic_leaves_the_client_alone(intake):
    intake.set_not_on_track_rule(ADMIN, CLINIC, {
        "reassessments_without_improvement": None, "sessions_without_improvement": 1,
        "on_reliable_deterioration": True})
    client_id = register(intake)
    assess(intake, client_id, MODERATE)
    before = names(intake, client_id)
    assert intake.consume(session_held(client_id, 5, clinic="clinic-2").to_dict()) == "applied"
    assert intake.consume(session_held("00000000-0000-4000-8000-0000000000aa", 5)
                          .to_dict()) == "applied"  # a client intake does not know
    assert names(intake, client_id) == before
