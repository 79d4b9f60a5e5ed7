"""The treatment plan's rules: GAS T-score, goal lifecycle with history, ratings,
diagnoses and stage (services/notes/domain/treatment_plan.py)."""
import uuid

import pytest

from services.notes.domain import treatment_plan as rules
from shared.envelope import Event, event_type
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import catalogue
from shared.vocabulary import GOAL_STATUSES

CLIENT = str(uuid.uuid4())
AT = "2026-03-01T10:00:00Z"
LEVELS = {"-2": "no nights", "-1": "1-2 nights", "0": "3-4 nights", "+1": "5 nights",
          "+2": "every night"}


class Plan:
    """A plan built by its own events, each checked against the published schema."""

    def __init__(self):
        self.events = []

    def __call__(self):
        return rules.TreatmentPlan.from_events(CLIENT, self.events)

    def record(self, new_events):
        for new in new_events:
            event = Event(id=str(uuid.uuid4()), source="/praxis/notes",
                          type=event_type("notes", new.name, 1),
                          subject=rules.TreatmentPlan.stream_of(CLIENT),
                          time=AT, data=new.data, sequence=len(self.events) + 1,
                          organisationid="org-1", clinicid="clinic-1", correlationid="c")
            catalogue.validate(event)  # InvalidEvent if the domain's data broke the contract
            self.events.append(event)
        return new_events

    def goal(self, **overrides):
        arguments = dict(goal_id=str(uuid.uuid4()), description="Sleep through the night",
                         target_date="2026-09-01", instrument=None, target_score=None,
                         set_by="clinician-1", set_at=AT, weight=1, levels=LEVELS)
        arguments.update(overrides)
        (new,) = self.record(rules.set_goal(self(), **arguments))
        return new.data["goal_id"]


@pytest.fixture
def plan():
    return Plan()


# -- the worked checks of domain.md ---------------------------------------------------
@pytest.mark.parametrize("levels, expected", [
    ((+1, 0, -1), 50.0), ((+1, +1, 0), 59.1), ((+2, +1, +1), 68.3), ((-2, -2, -2), 22.6)])
def test_t_score_matches_the_worked_checks(levels, expected):
    assert rules.gas_t_score([(1, x) for x in levels]) == expected


def test_t_score_with_unequal_weights_and_none_without_ratings():
    # 50 + 10 * (2*1 + 1*(-1)) / sqrt(0.7 * 5 + 0.3 * 9) = 54.016...
    assert rules.gas_t_score([(2, 1), (1, -1)]) == 54.0
    assert rules.gas_t_score([]) is None
    # Every goal met as expected is 50 whatever the weights.
    assert rules.gas_t_score([(3, 0), (1, 0), (7, 0)]) == 50.0


def test_the_plan_scores_its_latest_ratings_and_leaves_cancelled_goals_out(plan):
    goals = [plan.goal() for _ in range(4)]
    for goal_id, level in zip(goals, (1, 1, 0, -2)):
        plan.record(rules.rate_goal(plan(), goal_id, -1, None, "clinician-1", AT))
        plan.record(rules.rate_goal(plan(), goal_id, level, None, "clinician-1", AT))
    plan.record(rules.change_goal_status(plan(), goals[3], "cancelled", "moved away", "c", AT))
    assert plan().t_score() == 59.1  # (+1, +1, 0): the -1s were superseded, the -2 cancelled
    assert [r[0] for r in plan().goals[goals[0]].ratings] == [-1, 1]


# -- setting goals ------------------------------------------------------------------------
def test_goal_set_carries_weight_levels_and_status(plan):
    goal_id = plan.goal(weight=3, levels={**{k: v for k, v in LEVELS.items() if k[0] != "+"},
                                          "1": "5 nights", "2": "every night"})
    data = plan.events[0].data
    assert data["weight"] == 3 and data["status"] == "active"
    assert data["levels"] == LEVELS  # "1" and "2" are read as +1 and +2
    assert plan().goals[goal_id].levels == LEVELS


def test_a_goal_may_be_proposed_and_unscaled(plan):
    goal_id = plan.goal(status="proposed", levels=None)
    assert plan().goals[goal_id].status == "proposed" and plan().goals[goal_id].levels is None


@pytest.mark.parametrize("levels, message", [
    ({k: v for k, v in LEVELS.items() if k != "0"}, "missing 0"),
    ({**LEVELS, "+3": "more"}, "unknown level"),
    ({**LEVELS, "-1": " "}, "level -1 must be text"),
    ("five", "must map each level"),
])
def test_levels_are_all_five_written(plan, levels, message):
    with pytest.raises(InvalidInput) as caught:
        plan.goal(levels=levels)
    assert list(caught.value.fields) == ["levels"]
    assert message in " ".join(caught.value.fields["levels"])


@pytest.mark.parametrize("weight", [0, -1, 1.5, True, 101])
def test_weight_is_a_positive_integer(plan, weight):
    with pytest.raises(InvalidInput) as caught:
        plan.goal(weight=weight)
    assert list(caught.value.fields) == ["weight"]


def test_a_new_goal_is_not_already_closed(plan):
    with pytest.raises(InvalidInput) as caught:
        plan.goal(status="completed")
    assert list(caught.value.fields) == ["status"]


# -- lifecycle and history ------------------------------------------------------------------
def test_the_lifecycle_covers_the_vocabulary_s_goal_statuses():
    assert set(rules.TRANSITIONS) == set(GOAL_STATUSES)
    assert {s for moves in rules.TRANSITIONS.values() for s in moves} <= set(GOAL_STATUSES)
    assert set(rules.NEW_STATUSES) <= set(GOAL_STATUSES)


def test_lifecycle_follows_fhir_goal(plan):
    goal_id = plan.goal(status="proposed")
    for status in ("active", "on_hold", "active", "completed"):
        plan.record(rules.change_goal_status(plan(), goal_id, status, None, "c", AT))
    assert plan().goals[goal_id].status == "completed"
    history = [(e.data["previous_status"], e.data["status"]) for e in plan.events[1:]]
    assert history == [("proposed", "active"), ("active", "on_hold"), ("on_hold", "active"),
                       ("active", "completed")]


@pytest.mark.parametrize("path, refused", [
    ((), "on_hold"), ((), "completed"), (("active", "completed"), "active"),
    (("cancelled",), "active"), (("active",), "active"), (("active", "cancelled"), "cancelled"),
])
def test_moves_the_lifecycle_forbids_are_conflicts(plan, path, refused):
    goal_id = plan.goal(status="proposed")
    for status in path:
        plan.record(rules.change_goal_status(plan(), goal_id, status, None, "c", AT))
    with pytest.raises(Conflict):
        rules.change_goal_status(plan(), goal_id, refused, None, "c", AT)


def test_revising_keeps_the_old_terms_in_the_history_and_names_what_changed(plan):
    goal_id = plan.goal(weight=1)
    (revised,) = plan.record(rules.revise_goal(
        plan(), goal_id, {"weight": 2, "description": "Sleep 6 hours"}, "too ambitious",
        "clinician-1", AT))
    assert revised.data["changed"] == ["description", "weight"]
    assert revised.data["levels"] == LEVELS and revised.data["reason"] == "too ambitious"
    assert plan().goals[goal_id].weight == 2
    assert plan.events[0].data["description"] == "Sleep through the night"  # history stays


def test_revision_rules(plan):
    goal_id = plan.goal()
    with pytest.raises(InvalidInput) as caught:
        rules.revise_goal(plan(), goal_id, {"weight": 1}, None, "c", AT)
    assert "weight" in caught.value.fields  # nothing changed
    with pytest.raises(InvalidInput) as caught:
        rules.revise_goal(plan(), goal_id, {"target_score": 3}, None, "c", AT)
    assert list(caught.value.fields) == ["target_score"]  # still needs its instrument
    with pytest.raises(NotFound):
        rules.revise_goal(plan(), str(uuid.uuid4()), {"weight": 2}, None, "c", AT)
    plan.record(rules.change_goal_status(plan(), goal_id, "cancelled", None, "c", AT))
    with pytest.raises(Conflict):
        rules.revise_goal(plan(), goal_id, {"weight": 2}, None, "c", AT)


# -- ratings -----------------------------------------------------------------------------
def test_rating_needs_an_active_scaled_goal_and_a_level(plan):
    unscaled = plan.goal(levels=None)
    with pytest.raises(Conflict):
        rules.rate_goal(plan(), unscaled, 0, None, "c", AT)
    proposed = plan.goal(status="proposed")
    with pytest.raises(Conflict):
        rules.rate_goal(plan(), proposed, 0, None, "c", AT)
    scaled = plan.goal()
    for level in (-3, 3, 1.0, True):
        with pytest.raises(InvalidInput) as caught:
            rules.rate_goal(plan(), scaled, level, None, "c", AT)
        assert list(caught.value.fields) == ["level"]
    appointment = str(uuid.uuid4())
    (rated,) = plan.record(rules.rate_goal(plan(), scaled, 2, appointment, "c", AT))
    assert rated.data["appointment_id"] == appointment
    assert plan().goals[scaled].latest_level == 2


# -- diagnoses and stage -------------------------------------------------------------------
def test_diagnoses_are_icd10_codes_in_order(plan):
    (new,) = plan.record(rules.set_diagnoses(plan(), ["f33.1", "F41.1", "Z63.0"], "c", AT))
    assert new.data["codes"] == ["F33.1", "F41.1", "Z63.0"]
    with pytest.raises(Conflict):
        rules.set_diagnoses(plan(), ["F33.1", "F41.1", "Z63.0"], "c", AT)
    plan.record(rules.set_diagnoses(plan(), [], "c", AT))
    assert plan().diagnoses == []


@pytest.mark.parametrize("codes", [["depression"], ["U07.1"], ["F33.1", "F33.1"], ["F3"],
                                   ["F33.12345"], "F33.1", [7]])
def test_bad_diagnoses_name_codes(plan, codes):
    with pytest.raises(InvalidInput) as caught:
        rules.set_diagnoses(plan(), codes, "c", AT)
    assert list(caught.value.fields) == ["codes"]


def test_stage_has_history_and_refuses_unknown_or_repeated(plan):
    for stage in ("awareness", "change", "integration", "change"):
        plan.record(rules.set_stage(plan(), stage, "c", AT))
    assert [(e.data["previous_stage"], e.data["stage"]) for e in plan.events] == [
        (None, "awareness"), ("awareness", "change"), ("change", "integration"),
        ("integration", "change")]
    with pytest.raises(Conflict):
        rules.set_stage(plan(), "change", "c", AT)
    with pytest.raises(InvalidInput) as caught:
        rules.set_stage(plan(), "maintenance", "c", AT)
    assert list(caught.value.fields) == ["stage"]
