"""Alliance measures and rupture flags without a framework, against hand-worked
totals, subscale means and the boundaries of both concern rules."""
import uuid

import pytest

from services.intake.domain import alliance
from shared.errors import Conflict, InvalidInput, NotFound
from tests.unit.test_intake_domain import Recorded

SRS, WAI = alliance.SRS, alliance.WAI_SR
RULE = alliance.AllianceRule()  # SRS, every session, drop of 5


def record(aggregate, new_events):
    for new in new_events:
        aggregate.apply(Recorded(new.name, new.data, aggregate.version + 1, new.id))
    return new_events


def rate(history, scores, rule=RULE, session_number=1):
    return record(history, alliance.rate_session(
        history, rule, {"session_id": str(uuid.uuid4()), "session_number": session_number},
        scores, "client", "2026-03-02T10:00:00Z"))


# -- scoring ---------------------------------------------------------------------
@pytest.mark.parametrize("scores, total", [
    ([0, 0, 0, 0], 0), ([10, 10, 10, 10], 40), ([9, 9, 9, 8], 35), ([9, 9, 9, 9], 36),
    ([10, 0, 7, 3], 20)])
def test_srs_total_is_the_sum_of_four_items_0_to_10(scores, total):
    assert SRS.score(scores) == (total, {})


def test_srs_concern_is_a_total_below_36():
    assert SRS.is_concern(35) and not SRS.is_concern(36)


def test_wai_totals_and_subscale_means_hand_worked():
    # items 1..12 answered 1,2,3,4,5,1,2,3,4,5,1,2
    scores = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]
    # goal = items 4,6,8,11 = 4+1+3+1 = 9 (mean 2.25); task = 1,2,10,12 = 1+2+5+2 = 10
    # (2.5); bond = 3,5,7,9 = 3+5+2+4 = 14 (3.5); total 33
    assert WAI.score(scores) == (33, {"goal": {"total": 9, "mean": 2.25},
                                      "task": {"total": 10, "mean": 2.5},
                                      "bond": {"total": 14, "mean": 3.5}})


def test_wai_lowest_and_highest_totals():
    assert WAI.score([1] * 12).total == 12
    assert WAI.score([5] * 12) == (60, {name: {"total": 20, "mean": 5.0}
                                        for name in ("goal", "task", "bond")})


def test_every_wai_item_is_in_exactly_one_subscale_of_four():
    items = sorted(n for subscale in WAI.subscales for n in subscale.items)
    assert items == list(range(1, 13))
    assert [len(s.items) for s in WAI.subscales] == [4, 4, 4]


@pytest.mark.parametrize("measure, scores, field", [
    (SRS, [10, 10, 10, 11], "item_scores.4"), (SRS, [-1, 0, 0, 0], "item_scores.1"),
    (SRS, [5, 5, 5], "item_scores.4"), (SRS, [5, 5, 5, 5, 5], "item_scores"),
    (SRS, [5, 5, True, 5], "item_scores.3"), (SRS, [5, 5, 5.5, 5], "item_scores.3"),
    (WAI, [0] + [3] * 11, "item_scores.1"), (WAI, [3] * 11 + [6], "item_scores.12"),
    (SRS, "40", "item_scores")])
def test_out_of_range_or_missing_scores_name_the_item(measure, scores, field):
    with pytest.raises(InvalidInput) as refused:
        measure.score(scores)
    assert field in refused.value.fields


def test_built_ins_carry_construct_names_only():
    assert SRS.kind == WAI.kind == "alliance"
    assert set(WAI.items) == {"goal", "task", "bond"}
    assert all(len(item.split()) <= 3 for item in SRS.items)


# -- rupture rule ------------------------------------------------------------------
def test_35_flags_below_threshold_and_36_does_not():
    history = alliance.ClientAlliance("c-1")
    assert [e.name for e in rate(history, [9, 9, 9, 9])] == ["AllianceRated"]
    rated, flagged = rate(history, [9, 9, 9, 8])
    assert flagged.name == "AllianceConcernFlagged"
    assert flagged.data["rules"] == ["below_threshold"] and flagged.data["total"] == 35
    assert flagged.data["session_id"] == rated.data["session_id"]


def test_drop_from_the_running_mean_flags_at_exactly_the_configured_drop():
    rule = alliance.AllianceRule(drop_points=3)
    history = alliance.ClientAlliance("c-1")
    rate(history, [10, 10, 10, 10], rule)   # 40
    rate(history, [10, 10, 10, 9], rule)    # 39: mean of earlier 40, drop 1
    # running mean of 40 and 39 = 39.5; 37 is 2.5 below: no flag (37 >= 36)
    assert len(rate(history, [10, 9, 9, 9], rule)) == 1
    # mean of 40, 39, 37 = 38.667; 36 is 2.667 below: no flag
    assert len(rate(history, [9, 9, 9, 9], rule)) == 1
    # mean of 40, 39, 37, 36 = 38; 35 is 3 below (and below 36): both rules
    assert rate(history, [9, 9, 9, 8], rule)[1].data["rules"] == [
        "below_threshold", "drop_from_mean"]


def test_a_drop_above_the_threshold_flags_on_the_drop_alone():
    rule = alliance.AllianceRule(drop_points=2)
    history = alliance.ClientAlliance("c-1")
    rate(history, [10, 10, 10, 10], rule)  # 40
    assert len(rate(history, [10, 10, 10, 9], rule)) == 1  # 39: 1 below 40
    # mean 39.5; 37 is 2.5 below
    (_, flagged) = rate(history, [10, 10, 9, 8], rule)
    assert flagged.data["rules"] == ["drop_from_mean"] and "39.5" in flagged.data["reason"]


def test_the_drop_rule_off_and_the_first_rating_have_no_mean_to_drop_from():
    history = alliance.ClientAlliance("c-1")
    assert len(rate(history, [10, 10, 10, 10], alliance.AllianceRule(drop_points=None))) == 1
    assert len(rate(history, [10, 10, 10, 6], alliance.AllianceRule(drop_points=None))) == 1
    assert len(rate(alliance.ClientAlliance("c-2"), [10, 10, 10, 6])) == 1  # 36, no mean


def test_wai_concern_below_36_and_drop_counts_only_the_same_measure():
    rule = alliance.AllianceRule(instrument="WAI-SR", drop_points=5)
    history = alliance.ClientAlliance("c-1")
    rate(history, [10, 10, 10, 10])  # an SRS 40 earlier does not make a WAI mean
    assert len(rate(history, [3] * 12, rule)) == 1            # 36
    assert rate(history, [3] * 11 + [2], rule)[1].data["rules"] == ["below_threshold"]


def test_a_second_rating_of_a_session_is_refused():
    history = alliance.ClientAlliance("c-1")
    session = {"session_id": str(uuid.uuid4()), "session_number": 1}
    record(history, alliance.rate_session(history, RULE, session, [9] * 4, "client", "t"))
    with pytest.raises(Conflict) as refused:
        alliance.rate_session(history, RULE, session, [10] * 4, "clinician", "t")
    assert "session_id" in refused.value.fields


def test_concern_lifecycle_raise_acknowledge_once():
    history = alliance.ClientAlliance("c-1")
    flag_id = rate(history, [5, 5, 5, 5])[1].data["flag_id"]
    assert history.concerns == {flag_id: False}
    (ack,) = record(history, alliance.acknowledge_concern(
        history, flag_id, "dr-1", "talked it through", "2026-03-03T10:00:00Z"))
    assert ack.data["action_taken"] == "talked it through" and history.concerns[flag_id]
    with pytest.raises(Conflict):
        alliance.acknowledge_concern(history, flag_id, "dr-1", "again", "t")
    with pytest.raises(NotFound):
        alliance.acknowledge_concern(history, str(uuid.uuid4()), "dr-1", "x", "t")


@pytest.mark.parametrize("settings, field", [
    ({"instrument": "PHQ-9"}, "instrument"), ({"every_sessions": 0}, "every_sessions"),
    ({"drop_points": 0}, "drop_points"), ({"drop_points": True}, "drop_points")])
def test_settings_that_do_not_hold_name_the_field(settings, field):
    with pytest.raises(InvalidInput) as refused:
        alliance.AllianceRule(**settings).check()
    assert field in refused.value.fields


@pytest.mark.parametrize("every, due", [(1, [1, 2, 3, 4]), (2, [1, 3]), (3, [1, 4])])
def test_how_often_a_rating_is_asked_for(every, due):
    rule = alliance.AllianceRule(every_sessions=every)
    assert [n for n in range(1, 5) if rule.is_due(n)] == due


def test_a_session_the_clinic_asks_no_rating_of_is_refused():
    rule = alliance.AllianceRule(every_sessions=2)
    history = alliance.ClientAlliance("c-1")
    assert len(rate(history, [9] * 4, rule, session_number=3)) == 1
    with pytest.raises(Conflict) as refused:
        rate(history, [9] * 4, rule, session_number=2)
    assert "every 2 sessions" in str(refused.value)


def test_settings_set_replaces_the_default():
    rule = alliance.AllianceRule("org-1", "clinic-1")
    assert rule.to_data() == {"instrument": "SRS", "every_sessions": 1, "drop_points": 5}
    record(rule, alliance.set_settings({"instrument": "WAI-SR", "every_sessions": 3,
                                        "drop_points": None}, "admin-1", "t"))
    assert rule.to_data() == {"instrument": "WAI-SR", "every_sessions": 3, "drop_points": None}
    with pytest.raises(InvalidInput):
        alliance.set_settings({"instrument": "X", "every_sessions": 1, "drop_points": 1}, "a", "t")
