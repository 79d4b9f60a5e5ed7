import uuid
from datetime import date

import pytest

from services.notes import domain
from shared.envelope import Event, event_type
from shared.errors import InvalidEvent, InvalidInput
from shared.events import catalogue

CLIENT = str(uuid.uuid4())
SET_AT = "2026-03-01T10:00:00Z"


def plan(client_id=CLIENT):
    return domain.TreatmentPlan(client_id)


def goal(**overrides):
    arguments = dict(goal_id=str(uuid.uuid4()), description="Sleep 7 hours most nights",
                     target_date="2026-06-30", instrument=None, target_score=None,
                     set_by="user-1", set_at=SET_AT)
    arguments.update(overrides)
    return domain.set_goal(plan(), **arguments)


def as_event(data, sequence=1):
    return Event(id=str(uuid.uuid4()), source="/praxis/notes",
                 type=event_type("notes", "GoalSet", 1),
                 subject=domain.TreatmentPlan.stream_of(CLIENT),
                 time=SET_AT, data=data, sequence=sequence, organisationid="org-1",
                 clinicid="clinic-1", correlationid="c")


def refused(**overrides):
    with pytest.raises(InvalidInput) as caught:
        goal(**overrides)
    return caught.value.fields


def test_stream_is_the_clients_treatment_plan():
    assert domain.TreatmentPlan.stream_of(CLIENT) == f"treatment-plan-{CLIENT}"


def test_goal_set_data_shape_fits_the_published_schema():
    goal_id = str(uuid.uuid4())
    (new,) = goal(goal_id=goal_id, instrument="PHQ-9", target_score=4)
    assert new.name == "GoalSet"
    assert new.data == {
        "goal_id": goal_id, "client_id": CLIENT, "description": "Sleep 7 hours most nights",
        "target_date": "2026-06-30", "instrument": "PHQ-9", "target_score": 4,
        "weight": 1, "levels": None, "status": "active",
        "set_by": "user-1", "set_at": SET_AT}
    catalogue.validate(as_event(new.data))  # raises InvalidEvent if it did not fit


def test_a_goal_needs_no_instrument():
    (new,) = goal()
    assert new.data["instrument"] is None and new.data["target_score"] is None
    catalogue.validate(as_event(new.data))  # raises InvalidEvent if it did not fit


def test_target_date_may_be_a_date_and_is_stored_as_iso_text():
    (new,) = goal(target_date=date(2020, 1, 31))  # a past date is allowed
    assert new.data["target_date"] == "2020-01-31"


def test_target_score_without_instrument_is_refused_naming_target_score():
    assert refused(target_score=5) == {
        "target_score": ["needs the instrument it is measured with"]}


def test_the_schema_refuses_a_negative_target_score():
    (new,) = goal(instrument="PHQ-9", target_score=1)
    with pytest.raises(InvalidEvent) as caught:
        catalogue.validate(as_event({**new.data, "target_score": -1}))
    assert "target_score" in caught.value.fields


def test_zero_is_a_valid_target_score():
    (new,) = goal(instrument="GAD-7", target_score=0)
    assert new.data["target_score"] == 0


@pytest.mark.parametrize("score", [-1, 2.5, "5", True])
def test_target_score_must_be_a_non_negative_integer(score):
    assert list(refused(instrument="PHQ-9", target_score=score)) == ["target_score"]


@pytest.mark.parametrize("description", ["", "   ", None, 7, "x" * 2001])
def test_description_must_be_1_to_2000_characters(description):
    assert list(refused(description=description)) == ["description"]


def test_description_of_2000_characters_is_accepted():
    (new,) = goal(description="x" * 2000)
    assert len(new.data["description"]) == 2000


@pytest.mark.parametrize("target_date", ["2026-02-30", "soon", "", None, 20260101])
def test_target_date_must_be_a_date(target_date):
    assert list(refused(target_date=target_date)) == ["target_date"]


@pytest.mark.parametrize("instrument", ["", " ", "x" * 41, 9])
def test_instrument_must_be_a_short_code(instrument):
    assert list(refused(instrument=instrument)) == ["instrument"]


def test_every_bad_field_is_named_at_once():
    fields = refused(description="", target_date="never", target_score=3)
    assert sorted(fields) == ["description", "target_date", "target_score"]


def test_plan_follows_its_events():
    (new,) = goal()
    events = [as_event(new.data, sequence=n) for n in (1, 2)]
    rebuilt = domain.TreatmentPlan.from_events(CLIENT, events)
    assert rebuilt.version == 2
    assert list(rebuilt.goals) == [new.data["goal_id"]]
    assert domain.TreatmentPlan.from_events(CLIENT, []).version == 0
