"""The dropout-risk rule at its boundaries: the window's two ends, the number of missed
sessions, the concern's place in the window, one open flag at a time, the rule off."""
from datetime import datetime, timedelta, timezone

import pytest

from services.intake.domain import dropout
from services.intake.domain.dropout import LATE_CANCEL, NO_SHOW, DropoutRiskRule
from shared.errors import Conflict, InvalidInput, NotFound

AT = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
RULE = DropoutRiskRule(misses=2, window_days=30)
CONCERN = [("concern-1", AT - timedelta(days=3))]


def misses(*days_before, kind=NO_SHOW):
    return [(f"appointment-{i}", kind, AT - timedelta(days=d))
            for i, d in enumerate(days_before)]


def assess(concerns=CONCERN, missed=(), rule=RULE, risk=None):
    risk = risk or dropout.ClientDropoutRisk.new("client-1")
    return dropout.assess(risk, rule, concerns, list(missed), AT, "trigger-1",
                          AT.isoformat())


def test_two_misses_with_a_concern_in_the_window_flag_one_miss_does_not():
    assert assess(missed=misses(1)) == []
    (flagged,) = assess(missed=misses(1, 2))
    assert flagged.name == "DropoutRiskFlagged"
    assert (flagged.data["no_shows"], flagged.data["late_cancels"],
            flagged.data["concern_flag_ids"]) == (2, 0, ["concern-1"])


def test_late_cancellations_and_no_shows_count_together():
    (flagged,) = assess(missed=misses(1) + misses(2, kind=LATE_CANCEL))
    assert (flagged.data["late_cancels"], flagged.data["no_shows"]) == (1, 1)


def test_a_miss_exactly_window_days_before_is_outside_one_second_later_inside():
    edge = [("a", NO_SHOW, AT - timedelta(days=30)), ("b", NO_SHOW, AT)]
    assert assess(missed=edge) == []
    inside = [("a", NO_SHOW, AT - timedelta(days=30) + timedelta(seconds=1)),
              ("b", NO_SHOW, AT)]
    assert len(assess(missed=inside)) == 1


def test_a_fact_after_the_trigger_does_not_count():
    later = [("a", NO_SHOW, AT - timedelta(days=1)), ("b", NO_SHOW, AT + timedelta(seconds=1))]
    assert assess(missed=later) == []


def test_the_concern_must_be_in_the_window_too():
    assert assess(concerns=[("old", AT - timedelta(days=30))], missed=misses(1, 2)) == []
    assert len(assess(concerns=[("edge", AT - timedelta(days=30) + timedelta(seconds=1))],
                      missed=misses(1, 2))) == 1
    assert assess(concerns=[], missed=misses(1, 2, 3)) == []


def test_no_second_flag_while_one_is_open_and_one_again_once_acknowledged():
    risk = dropout.ClientDropoutRisk.new("client-1")
    (flagged,) = assess(missed=misses(1, 2), risk=risk)
    risk.flags[flagged.data["flag_id"]] = False
    assert assess(missed=misses(1, 2, 3), risk=risk) == []
    (ack,) = dropout.acknowledge(risk, flagged.data["flag_id"], "clin-1", "called",
                                 AT.isoformat())
    risk.flags[flagged.data["flag_id"]] = True
    with pytest.raises(Conflict):
        dropout.acknowledge(risk, flagged.data["flag_id"], "clin-1", "again", AT.isoformat())
    with pytest.raises(NotFound):
        dropout.acknowledge(risk, "nope", "clin-1", "x", AT.isoformat())
    assert len(assess(missed=misses(1, 2), risk=risk)) == 1


def test_the_rule_off_never_flags_and_bad_settings_name_the_field():
    assert assess(missed=misses(1, 2, 3), rule=DropoutRiskRule(None, 30)) == []
    assert len(assess(missed=misses(1), rule=DropoutRiskRule(1, 30))) == 1
    for rule, field in ((DropoutRiskRule(0, 30), "dropout_misses"),
                        (DropoutRiskRule(21, 30), "dropout_misses"),
                        (DropoutRiskRule(2, 0), "dropout_window_days"),
                        (DropoutRiskRule(2, 366), "dropout_window_days")):
        with pytest.raises(InvalidInput) as refused:
            rule.check()
        assert field in refused.value.fields
    assert DropoutRiskRule(20, 365).check() and DropoutRiskRule(1, 1).check()
