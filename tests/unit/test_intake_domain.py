"""Intake's domain without a framework: clients, episodes, consents, assessing
(risk, deterioration, not on track) against hand-worked cases."""
import uuid
from dataclasses import dataclass

import pytest

from services.intake import domain
from shared.errors import Conflict, InvalidInput, NotFound

ADULT = {"name": "Ada Lovelace", "date_of_birth": "1990-01-02",
         "contact": {"email": "ada@example.org"}}
CATALOGUE = domain.InstrumentCatalogue.new("org-1")
RULE = domain.NotOnTrackRule()


@dataclass
class Recorded:
    """What the store would make of a NewEvent, as far as the domain reads it."""
    name: str
    data: dict
    sequence: int
    id: str = None
    organisationid: str = "org-1"
    clinicid: str = "clinic-1"


def record(client, new_events):
    for new in new_events:
        client.apply(Recorded(new.name, new.data, client.version + 1, new.id))
    return new_events


def registered(details=ADULT, at="2026-01-05T09:00:00Z"):
    client = domain.Client(str(uuid.uuid4()))
    record(client, domain.register(client.client_id, str(uuid.uuid4()), details, at))
    return client


def assess(client, answers, code="PHQ-9", rule=RULE, at="2026-02-01T09:00:00Z"):
    return record(client, domain.assess(client, CATALOGUE, rule, str(uuid.uuid4()), code,
                                        answers, at))


def phq9(total):
    answers = []
    for _ in range(8):  # item 9 stays 0 unless the total needs it
        step = min(3, total)
        answers.append(step)
        total -= step
    return answers + [total]


# -- registration ---------------------------------------------------------------

def test_registration_opens_an_episode():
    client = registered()
    assert client.registered and client.episode.is_open
    assert client.details["name"] == "Ada Lovelace"


def test_a_minor_needs_a_guardian():
    with pytest.raises(InvalidInput) as refused:
        domain.register("c", "e", {**ADULT, "date_of_birth": "2015-06-01"},
                        "2026-01-05T09:00:00Z")
    assert list(refused.value.fields) == ["guardian"]
    events = domain.register("c", "e", {**ADULT, "date_of_birth": "2015-06-01", "guardian": {
        "name": "Ann Byron", "relationship": "mother", "phone": "+44 20 0000"}},
        "2026-01-05T09:00:00Z")
    assert [e.name for e in events] == ["ClientRegistered", "EpisodeOpened"]
    assert events[0].data["guardian"]["relationship"] == "mother"


def test_a_client_turning_18_tomorrow_is_still_a_minor():
    with pytest.raises(InvalidInput):
        domain.register("c", "e", {**ADULT, "date_of_birth": "2008-01-06"},
                        "2026-01-05T09:00:00Z")
    domain.register("c", "e", {**ADULT, "date_of_birth": "2008-01-05"}, "2026-01-05T09:00:00Z")


def test_an_insurer_needs_a_name_and_member_id():
    with pytest.raises(InvalidInput) as refused:
        domain.register("c", "e", {**ADULT, "payer": {"kind": "insurer", "insurer_name": "Aetna",
                                                      "member_id": None}}, "2026-01-05T09:00:00Z")
    assert list(refused.value.fields) == ["payer.member_id"]


def test_a_client_needs_a_way_to_be_reached_or_a_reason_for_none():
    at = "2026-01-05T09:00:00Z"
    for contact in (None, {}, {"email": None, "phone": None, "text_ok": True}, {"phone": "  "}):
        with pytest.raises(InvalidInput) as refused:
            domain.register("c", "e", {**ADULT, "contact": contact}, at)
        assert list(refused.value.fields) == ["contact"]
    with pytest.raises(InvalidInput):
        domain.register("c", "e", {**ADULT, "contact": {}, "no_contact_reason": "   "}, at)
    domain.register("c", "e", {**ADULT, "contact": {"phone": "+44 20 7946 0000"}}, at)
    reason = "No fixed abode; reached via the shelter"
    (registered_event, _) = domain.register(
        "c", "e", {**ADULT, "contact": {}, "no_contact_reason": reason}, at)
    assert registered_event.data["no_contact_reason"].startswith("No fixed abode")
    # A minor reached through the guardian (the guardian rule itself is unchanged).
    domain.register("c", "e", {**ADULT, "contact": {}, "date_of_birth": "2015-06-01",
                               "guardian": {"name": "Ann Byron", "relationship": "mother",
                                            "email": "ann@example.org"}}, at)


def test_an_update_cannot_remove_the_last_way_to_reach_the_client():
    client = registered()
    with pytest.raises(InvalidInput) as refused:
        domain.update_details(client, {"contact": {"email": None}}, "2026-01-06T09:00:00Z")
    assert list(refused.value.fields) == ["contact"]
    (event,) = record(client, domain.update_details(client, {
        "contact": {"email": None}, "no_contact_reason": "Withdrew all contact details"},
        "2026-01-06T09:00:00Z"))
    assert event.data["changes"]["no_contact_reason"] == "Withdrew all contact details"
    with pytest.raises(InvalidInput) as refused:
        domain.update_details(client, {"no_contact_reason": None}, "2026-01-07T09:00:00Z")
    assert list(refused.value.fields) == ["contact"]


def test_an_update_elsewhere_does_not_trip_over_a_legacy_client_without_contact():
    client = domain.Client("c-legacy")
    client.apply(Recorded("ClientRegistered", {"client_id": "c-legacy", "name": "Ada",
                                               "date_of_birth": "1990-01-02", "contact": {},
                                               "registered_at": "2025-01-01T09:00:00Z"}, 1))
    (event,) = domain.update_details(client, {"pronouns": "she/her"}, "2026-01-06T09:00:00Z")
    assert event.data["changes"] == {"pronouns": "she/her"}


def test_details_update_carries_only_what_changed():
    client = registered()
    (event,) = record(client, domain.update_details(client, {
        "name": "Ada Lovelace", "pronouns": "she/her", "contact": {"text_ok": True}},
        "2026-01-06T09:00:00Z"))
    assert event.data["changes"] == {
        "pronouns": "she/her", "contact": {"email": "ada@example.org", "text_ok": True}}
    assert domain.update_details(client, {"pronouns": "she/her"}, "2026-01-07T09:00:00Z") == []


# -- consents -------------------------------------------------------------------

def test_consent_given_revoked_and_given_again():
    client = registered()
    record(client, domain.give_consent(client, "cancellation_policy", "2026-01",
                                       "2026-01-05T09:00:00Z", "user-1"))
    assert client.consents["cancellation_policy"]["document_version"] == "2026-01"
    with pytest.raises(Conflict):
        domain.give_consent(client, "cancellation_policy", "2026-01", "2026-01-06T09:00:00Z", "u")
    record(client, domain.revoke_consent(client, "cancellation_policy", "2026-01-07T09:00:00Z",
                                         "user-1"))
    assert "cancellation_policy" not in client.consents
    with pytest.raises(Conflict):
        domain.revoke_consent(client, "cancellation_policy", "2026-01-08T09:00:00Z", "u")
    record(client, domain.give_consent(client, "cancellation_policy", "2026-02",
                                       "2026-01-09T09:00:00Z", "user-1"))
    assert client.consents["cancellation_policy"]["document_version"] == "2026-02"


# -- assessing --------------------------------------------------------------------

def test_first_assessment_is_the_baseline_then_reassessments_carry_the_change():
    client = registered()
    (first,) = assess(client, phq9(14))
    assert first.data["kind"] == "initial" and first.data["change"] is None
    assert first.data["episode_id"] == client.episode.episode_id
    assert first.data["instrument_version"] == 1
    (again,) = assess(client, phq9(8))
    assert again.data["kind"] == "reassessment"
    assert again.data["change"] == {
        "baseline_assessment_id": first.data["assessment_id"], "baseline_total": 14,
        "difference": -6, "rci": -1.961, "category": "recovered", "response": False,
        "remission": False}
    (other,) = assess(client, [0] * 7, code="GAD-7")
    assert other.data["kind"] == "initial"


def test_item_9_above_zero_raises_a_risk_flag_whatever_the_total():
    client = registered()
    events = assess(client, [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert [e.name for e in events] == ["ClientAssessed", "RiskFlagRaised"]
    flag = events[1].data
    assert flag["assessment_id"] == events[0].data["assessment_id"]
    assert flag["item"] == 9 and flag["answer"] == 1 and flag["instrument"] == "PHQ-9"
    assert flag["flag_id"] == domain.risk_flag_id(flag["assessment_id"], 9)
    assert [e.name for e in assess(registered(), [3] * 8 + [0])] == ["ClientAssessed"]


def test_a_risk_flag_is_acknowledged_once():
    client = registered()
    flag_id = assess(client, [0] * 8 + [2])[1].data["flag_id"]
    (ack,) = record(client, domain.acknowledge_risk_flag(
        client, flag_id, "clinician-1", "Safety plan agreed; GP informed", "2026-02-01T10:00:00Z"))
    assert ack.data["acknowledged_by"] == "clinician-1"
    with pytest.raises(Conflict):
        domain.acknowledge_risk_flag(client, flag_id, "c", "again", "2026-02-01T11:00:00Z")
    with pytest.raises(NotFound):
        domain.acknowledge_risk_flag(client, str(uuid.uuid4()), "c", "x", "2026-02-01T11:00:00Z")


def test_reliable_deterioration_raises_an_alert_and_flags_not_on_track_once():
    client = registered()
    assess(client, phq9(5))
    events = assess(client, phq9(11))  # +6: reliably worse
    assert [e.name for e in events] == [
        "ClientAssessed", "ReliableDeteriorationDetected", "NotOnTrackFlagged"]
    assert events[1].data["rci"] == 1.961
    assert events[2].data["rule"] == "reliable_deterioration"
    again = assess(client, phq9(12))
    assert [e.name for e in again] == [
        "ClientAssessed", "ReliableDeteriorationDetected", "NotOnTrackFlagged"]
    assert again[2].data["rule"] == "reassessments_without_improvement=2"
    assert [e.name for e in assess(client, phq9(13))] == [
        "ClientAssessed", "ReliableDeteriorationDetected"]


def test_no_reliable_improvement_by_the_nth_reassessment():
    rule = domain.NotOnTrackRule(reassessments_without_improvement=3,
                                 on_reliable_deterioration=False)
    client = registered()
    assess(client, phq9(16), rule=rule)
    assert [e.name for e in assess(client, phq9(14), rule=rule)] == ["ClientAssessed"]
    assert [e.name for e in assess(client, phq9(12), rule=rule)] == ["ClientAssessed"]
    third = assess(client, phq9(11), rule=rule)  # -5: still no reliable change
    assert [e.name for e in third] == ["ClientAssessed", "NotOnTrackFlagged"]
    assert third[1].data["rule"] == "reassessments_without_improvement=3"
    assert third[1].data["assessment_id"] == third[0].data["assessment_id"]


def test_improving_by_the_nth_reassessment_is_on_track():
    rule = domain.NotOnTrackRule(reassessments_without_improvement=1)
    client = registered()
    assess(client, phq9(16), rule=rule)
    assert [e.name for e in assess(client, phq9(9), rule=rule)] == ["ClientAssessed"]


def test_session_limit_flags_instruments_without_reliable_improvement():
    rule = domain.NotOnTrackRule(reassessments_without_improvement=None,
                                 sessions_without_improvement=6)
    client = registered()
    assess(client, phq9(16), rule=rule)
    assess(client, [2] * 7, code="GAD-7", rule=rule)
    assess(client, phq9(8), rule=rule)  # PHQ-9 recovered; GAD-7 only has its baseline
    assert domain.session_held(client, rule, 5, "2026-03-01T10:00:00Z") == []
    events = domain.session_held(client, rule, 6, "2026-03-08T10:00:00Z")
    assert [(e.name, e.data["instrument"]) for e in events] == [("NotOnTrackFlagged", "GAD-7")]
    assert events[0].data["assessment_id"] is None
    assert events[0].data["rule"] == "sessions_without_improvement=6"
    assert "by session 6 of the episode" in events[0].data["reason"]
    # Session 7 arriving first flags the same event: one per episode and instrument.
    assert [(e.id, e.data["reason"]) for e in domain.session_held(
        client, rule, 7, "2026-03-08T10:00:00Z")] == [(events[0].id, events[0].data["reason"])]
    record(client, events)
    assert domain.session_held(client, rule, 7, "2026-03-15T10:00:00Z") == []


def test_discharge_closes_the_episode_and_a_new_one_has_a_new_baseline():
    client = registered()
    assess(client, phq9(14))
    (discharged,) = record(client, domain.discharge(client, "planned_ending",
                                                    "2026-04-01T09:00:00Z"))
    assert discharged.data["episode_id"] == client.episodes[0].episode_id
    with pytest.raises(Conflict):
        domain.assess(client, CATALOGUE, RULE, "a", "PHQ-9", phq9(3), "2026-04-02T09:00:00Z")
    with pytest.raises(Conflict):
        domain.discharge(client, "planned_ending", "2026-04-02T09:00:00Z")
    record(client, domain.open_episode(client, str(uuid.uuid4()), "2026-09-01T09:00:00Z"))
    with pytest.raises(Conflict):
        domain.open_episode(client, str(uuid.uuid4()), "2026-09-02T09:00:00Z")
    (baseline,) = assess(client, phq9(12))
    assert baseline.data["kind"] == "initial" and baseline.data["change"] is None
    assert baseline.data["episode_id"] == client.episode.episode_id != discharged.data[
        "episode_id"]


def test_unknown_instrument_and_unknown_client():
    client = registered()
    with pytest.raises(InvalidInput) as refused:
        domain.assess(client, CATALOGUE, RULE, "a", "BDI-II", [0] * 21, "2026-01-01T09:00:00Z")
    assert "instrument" in refused.value.fields
    with pytest.raises(NotFound):
        domain.assess(domain.Client("c-2"), CATALOGUE, RULE, "a", "PHQ-9", [0] * 9,
                      "2026-01-01T09:00:00Z")


def test_a_client_registered_before_episodes_has_an_implicit_one():
    client = domain.Client("c-legacy")
    client.apply(Recorded("ClientRegistered", {"client_id": "c-legacy", **ADULT,
                                               "registered_at": "2025-01-01T09:00:00Z"}, 1))
    client.apply(Recorded("ClientAssessed", {"client_id": "c-legacy", "assessment_id": "a-1",
                                             "instrument": "PHQ-9", "kind": "initial",
                                             "answers": phq9(15), "total": 15,
                                             "severity": "moderately severe",
                                             "assessed_at": "2025-01-01T09:00:00Z"}, 2))
    (again,) = assess(client, phq9(4))
    assert again.data["episode_id"] == domain.implicit_episode_id("c-legacy")
    assert again.data["change"]["category"] == "recovered"


def test_each_aggregate_is_what_its_stream_says():
    client = domain.Client.from_events("c-1", [])
    assert (client.stream_id, client.version, client.exists) == ("client-c-1", 0, False)

    default = domain.NotOnTrackRule.from_events(("org-1", "clinic-1"), [])
    assert default.stream_id == "not-on-track-rule-org-1/clinic-1"
    assert default.to_data() == {"reassessments_without_improvement": 2,
                                 "sessions_without_improvement": None,
                                 "on_reliable_deterioration": True}
    settings = {"reassessments_without_improvement": None, "sessions_without_improvement": 6,
                "on_reliable_deterioration": False, "clinic_id": "clinic-1"}
    (first,) = domain.set_not_on_track_rule(settings, "admin-1", "2026-01-01T09:00:00Z")
    (second,) = domain.set_not_on_track_rule({**settings, "sessions_without_improvement": 8},
                                             "admin-1", "2026-02-01T09:00:00Z")
    assert "clinic_id" not in first.data  # only the rule's own settings
    rule = domain.NotOnTrackRule.from_events(("org-1", "clinic-1"), [
        Recorded(first.name, first.data, 1), Recorded(second.name, second.data, 2)])
    assert rule.version == 2 and rule.to_data() == {
        "reassessments_without_improvement": None, "sessions_without_improvement": 8,
        "on_reliable_deterioration": False}

    _, (defined,) = domain.define_instrument(
        CATALOGUE, {**domain.GAD7.to_data(), "reliable_change_threshold": None},
        "admin-1", "2026-01-01T09:00:00Z")
    catalogue = domain.InstrumentCatalogue.from_events(
        "org-1", [Recorded(defined.name, defined.data, 1)])
    assert (catalogue.stream_id, catalogue.version) == ("instruments-org-1", 1)
    assert catalogue.latest("GAD-7").version == 2
    assert catalogue.instrument("GAD-7", 1) is domain.GAD7
    assert CATALOGUE.instrument("GAD-7", 2) is None  # the built-ins' catalogue is untouched
