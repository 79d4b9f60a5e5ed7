"""What the therapy does (issue 17 item 4): the plan's approach with its history, the
interventions a session's note records, and the organisation's own vocabulary."""
import pytest

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.application.test_notes import (  # noqa: F401
    ADMIN, CLINICIAN, OTHER_CLINICIAN, OTHER_ORG, SOAP, app, by, held_note, own_events,
    registered)
from shared.auth import Principal

CLINIC_ADMIN = Principal("admin-2", "admin", "org-1", ("clinic-1",))


def fields_of(error):
    return set(error.value.fields)


def test_the_plan_s_approach_is_set_with_its_history(app):  # noqa: F811
    client_id = registered(app)
    app.set_approach(by(CLINICIAN), client_id, {"approaches": ["cognitive_behavioural"]})
    answer = app.set_approach(by(CLINICIAN), client_id, {
        "approaches": ["cognitive_behavioural", "other"], "other_text": "schema therapy"})
    assert answer["previous_approaches"] == ["cognitive_behavioural"]
    plan = app.plan(CLINICIAN, client_id)
    assert plan["approach"]["approaches"] == ["cognitive_behavioural", "other"]
    assert plan["approach"]["other_text"] == "schema therapy"
    assert [h["approaches"] for h in plan["approach_history"]] == [
        ["cognitive_behavioural"], ["cognitive_behavioural", "other"]]
    with pytest.raises(Conflict):  # the same again changes nothing
        app.set_approach(by(CLINICIAN), client_id, {
            "approaches": ["cognitive_behavioural", "other"], "other_text": "schema therapy"})
    (first, second) = own_events(app, "TreatmentApproachSet")
    assert second.data["previous_approaches"] == ["cognitive_behavioural"]


@pytest.mark.parametrize("command, field", [
    ({"approaches": ["gestalt"]}, "approaches.0"),
    ({"approaches": ["psychodynamic", "psychodynamic"]}, "approaches.1"),
    ({"approaches": []}, "approaches"),
    ({"approaches": ["other"]}, "other_text"),
    ({"approaches": ["systemic"], "other_text": "something"}, "other_text"),
    ({"approaches": ["other"], "other_text": "x" * 501}, "other_text"),
])
def test_an_approach_outside_the_vocabulary_is_refused_naming_the_field(app, command, field):  # noqa: F811,E501
    client_id = registered(app)
    with pytest.raises(InvalidInput) as refused:
        app.set_approach(by(CLINICIAN), client_id, command)
    assert field in fields_of(refused)
    assert own_events(app, "TreatmentApproachSet") == []


def test_a_note_records_its_session_s_interventions_until_signed(app):  # noqa: F811
    note_id = held_note(app, registered(app))
    assert app.session_interventions(CLINICIAN, note_id)["interventions"] == []
    answer = app.record_interventions(by(CLINICIAN), note_id, {
        "interventions": ["cognitive_restructuring", "family_sculpting"]})
    assert answer["interventions"] == ["cognitive_restructuring", "family_sculpting"]
    assert answer["approaches"] == ["cognitive_behavioural", "systemic"]
    with pytest.raises(InvalidInput) as refused:
        app.record_interventions(by(CLINICIAN), note_id, {"interventions": ["hypnosis"]})
    assert fields_of(refused) == {"interventions.0"}
    with pytest.raises(Forbidden):  # not the clinician who held the session
        app.record_interventions(by(OTHER_CLINICIAN), note_id, {"interventions": []})
    with pytest.raises(NotFound):
        app.record_interventions(by(OTHER_ORG), note_id, {"interventions": []})
    app.sign_note(by(CLINICIAN), note_id, {"format": "SOAP", "sections": SOAP})
    with pytest.raises(Conflict):  # locked with the note
        app.record_interventions(by(CLINICIAN), note_id, {"interventions": ["exposure"]})
    assert app.session_interventions(CLINICIAN, note_id)["interventions"] == [
        "cognitive_restructuring", "family_sculpting"]


def test_an_organisation_extends_both_vocabularies(app):  # noqa: F811
    client_id = registered(app)
    note_id = held_note(app, client_id)
    with pytest.raises(InvalidInput):
        app.set_approach(by(CLINICIAN), client_id, {"approaches": ["schema_therapy"]})
    with pytest.raises(Forbidden):  # an admin of one clinic only: organisation-wide setting
        app.set_therapy_vocabulary(by(CLINIC_ADMIN), {"approaches": [], "interventions": []})
    vocabulary = app.set_therapy_vocabulary(by(ADMIN), {
        "approaches": [{"code": "schema_therapy", "label": "Schema therapy"}],
        "interventions": [{"code": "limited_reparenting", "label": "Limited reparenting",
                           "approach": "schema_therapy"},
                          {"code": "thought_record", "label": "Thought record",
                           "approach": "cognitive_behavioural"}]})
    by_code = {a["code"]: a for a in vocabulary["approaches"]}
    assert by_code["schema_therapy"]["built_in"] is False
    assert [i["code"] for i in by_code["schema_therapy"]["interventions"]] == [
        "limited_reparenting"]
    assert "thought_record" in [i["code"] for i in by_code["cognitive_behavioural"]["interventions"]]
    app.set_approach(by(CLINICIAN), client_id, {"approaches": ["schema_therapy"]})
    answer = app.record_interventions(by(CLINICIAN), note_id, {
        "interventions": ["limited_reparenting", "thought_record"]})
    assert answer["approaches"] == ["cognitive_behavioural", "schema_therapy"]
    # another organisation's vocabulary is its own
    assert "schema_therapy" not in [a["code"] for a in
                                    app.therapy_vocabulary(OTHER_ORG)["approaches"]]


@pytest.mark.parametrize("command, field", [
    ({"approaches": [{"code": "psychodynamic", "label": "again"}], "interventions": []},
     "approaches.0.code"),
    ({"approaches": [{"code": "Bad Code", "label": "x"}], "interventions": []},
     "approaches.0.code"),
    ({"approaches": [{"code": "schema_therapy", "label": ""}], "interventions": []},
     "approaches.0.label"),
    ({"approaches": [], "interventions": [{"code": "exposure", "label": "again",
                                           "approach": "cognitive_behavioural"}]},
     "interventions.0.code"),
    ({"approaches": [], "interventions": [{"code": "tapping", "label": "Tapping",
                                           "approach": "nowhere"}]},
     "interventions.0.approach"),
])
def test_a_bad_vocabulary_entry_is_refused_naming_it(app, command, field):  # noqa: F811
    with pytest.raises(InvalidInput) as refused:
        app.set_therapy_vocabulary(by(ADMIN), command)
    assert field in fields_of(refused)
