"""Homework and journaling rules (services/notes/domain/between_sessions.py)."""
import uuid
from types import SimpleNamespace

import pytest

from services.notes.domain import between_sessions as rules, treatment_plan
from shared.errors import Conflict, InvalidInput

CLIENT = str(uuid.uuid4())
AT = "2026-03-02T11:00:00Z"


def plan_with(status="active"):
    goal_id = str(uuid.uuid4())
    plan = treatment_plan.TreatmentPlan(CLIENT)
    plan.goals[goal_id] = treatment_plan.Goal(goal_id, "Sleep", "2026-09-01", None, None,
                                              status=status)
    return plan, goal_id


def test_homework_goes_towards_a_goal_of_the_plan():
    plan, goal_id = plan_with()
    (new,) = rules.assign_homework(plan, str(uuid.uuid4()), goal_id, "Sleep diary nightly",
                                   "2026-03-09", "clinician-1", AT)
    assert new.data["goal_id"] == goal_id and new.data["due_date"] == "2026-03-09"
    with pytest.raises(InvalidInput) as caught:
        rules.assign_homework(plan, str(uuid.uuid4()), str(uuid.uuid4()), "", "soon", "c", AT)
    assert sorted(caught.value.fields) == ["due_date", "goal_id", "instructions"]
    closed, closed_goal = plan_with("completed")
    with pytest.raises(Conflict):
        rules.assign_homework(closed, str(uuid.uuid4()), closed_goal, "x", "2026-03-09", "c", AT)


def test_homework_is_marked_done_once_with_a_reflection():
    homework = rules.Homework("h", 1, CLIENT)
    with pytest.raises(InvalidInput) as caught:
        rules.complete_homework(homework, " ", "client-user", AT)
    assert list(caught.value.fields) == ["reflection"]
    (done,) = rules.complete_homework(homework, "Helped on 4 nights", "client-user", AT)
    assert done.data["reflection"] == "Helped on 4 nights"
    finished = rules.Homework.from_events("h", [SimpleNamespace(
        sequence=2, name="HomeworkCompleted", data=done.data)])
    with pytest.raises(Conflict):
        rules.complete_homework(finished, "again", "client-user", AT)


def test_completion_rate():
    assert rules.completion_rate(0, 0) is None
    assert rules.completion_rate(3, 2) == 0.667
    assert rules.completion_rate(4, 4) == 1.0


@pytest.mark.parametrize("mood", [-1, 11, 5.5, True, "7"])
def test_mood_is_0_to_10(mood):
    with pytest.raises(InvalidInput) as caught:
        rules.write_journal_entry(str(uuid.uuid4()), CLIENT, mood, "text", False, AT)
    assert list(caught.value.fields) == ["mood"]


def test_a_journal_entry_is_private_unless_shared():
    (entry,) = rules.write_journal_entry("e", CLIENT, 0, "A bad day", False, AT)
    assert entry.data["shared"] is False and entry.data["mood"] == 0
    private = rules.JournalEntry("e", 1, CLIENT, False)
    (shared,) = rules.change_sharing(private, True, AT)
    assert shared.data["shared"] is True
    assert rules.change_sharing(private, False, AT) == []  # already private: nothing happens
