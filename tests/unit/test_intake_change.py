"""Reliable change (Jacobson & Truax) against hand-worked cases, and the
properties that must hold for any scores."""
import math

import pytest
from hypothesis import given, strategies as st

from services.intake import domain
from services.intake.domain.change import IMPROVEMENTS, against_baseline
from services.intake.domain.instruments import Band, Instrument

PHQ9, GAD7 = domain.PHQ9, domain.GAD7
# By hand: S_diff(PHQ-9) = sqrt(2) * 6.0 * sqrt(0.13) = 3.0594; S_diff(GAD-7) = 2.0396.


@pytest.mark.parametrize("instrument,baseline,total,rci,category,response,remission", [
    # 18 -> 12: -6 / 3.0594 = -1.961 (> 1.96): reliable, still above the cut-off 10.
    (PHQ9, 18, 12, -1.961, "reliably_improved", False, False),
    # 18 -> 13: -5 / 3.0594 = -1.634: not reliable.
    (PHQ9, 18, 13, -1.634, "no_reliable_change", False, False),
    # 14 -> 8: reliable and crossed the cut-off from 14 (>= 10) to 8 (< 10).
    (PHQ9, 14, 8, -1.961, "recovered", False, False),
    # 12 -> 4: -8 / 3.0594 = -2.615; 8 >= 50% of 12: response; 4 < 5: remission.
    (PHQ9, 12, 4, -2.615, "recovered", True, True),
    # 8 -> 2: reliable, but the baseline was not clinical: improved, not recovered.
    (PHQ9, 8, 2, -1.961, "reliably_improved", True, True),
    # 10 -> 5: crossed the cut-off but -5 is not reliable.
    (PHQ9, 10, 5, -1.634, "no_reliable_change", True, False),
    # 5 -> 11: +6 reliable for the worse.
    (PHQ9, 5, 11, 1.961, "reliably_deteriorated", False, False),
    (PHQ9, 0, 0, 0.0, "no_reliable_change", False, True),
    # GAD-7: 12 -> 8: -4 / 2.0396 = -1.961, 8 is still at caseness (>= 8).
    (GAD7, 12, 8, -1.961, "reliably_improved", False, None),
    (GAD7, 11, 7, -1.961, "recovered", False, None),
    (GAD7, 10, 7, -1.471, "no_reliable_change", False, None),
    (GAD7, 6, 10, 1.961, "reliably_deteriorated", False, None),
    (GAD7, 14, 7, -3.432, "recovered", True, None),
])
def test_hand_worked_change(instrument, baseline, total, rci, category, response, remission):
    change = against_baseline(instrument, "b-1", baseline, total)
    assert change == {"baseline_assessment_id": "b-1", "baseline_total": baseline,
                      "difference": total - baseline, "rci": rci, "category": category,
                      "response": response, "remission": remission}


def instruments():
    """Any well-formed instrument: items, range, SD, r, direction, cut-off."""
    @st.composite
    def build(draw):
        items = draw(st.integers(1, 12))
        lowest = draw(st.integers(0, 2))
        highest = draw(st.integers(lowest + 1, lowest + 6))
        low, high = items * lowest, items * highest
        return Instrument(
            code="X", version=1, name="x", items=tuple(["i"] * items), lowest=lowest,
            highest=highest, bands=(Band(low, high, "all"),),
            cut_off=draw(st.integers(low + 1, high)),
            sd=draw(st.floats(0.1, 30, allow_nan=False)),
            reliability=draw(st.floats(0, 0.99, allow_nan=False)),
            higher_is_worse=draw(st.booleans()))
    return build()


@given(instruments(), st.data())
def test_the_category_never_says_improved_when_the_score_got_worse(instrument, data):
    baseline = data.draw(st.integers(instrument.min_total, instrument.max_total))
    total = data.draw(st.integers(instrument.min_total, instrument.max_total))
    category = domain.category(instrument, baseline, total)
    worse = total > baseline if instrument.higher_is_worse else total < baseline
    better = total < baseline if instrument.higher_is_worse else total > baseline
    if worse:
        assert category not in IMPROVEMENTS
    if better:
        assert category != "reliably_deteriorated"
    if total == baseline:
        assert category == "no_reliable_change"


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9),
       st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_phq9_change_is_reliable_exactly_from_the_threshold(before, after):
    baseline, total = PHQ9.score(before).total, PHQ9.score(after).total
    change = against_baseline(PHQ9, "b", baseline, total)
    reliable = change["category"] != "no_reliable_change"
    assert reliable == (abs(total - baseline) >= PHQ9.reliable_change_threshold)
    if total > baseline:
        assert change["category"] not in IMPROVEMENTS and not change["response"]
    assert math.copysign(1, change["rci"]) == math.copysign(1, total - baseline) \
        or total == baseline
