"""Instruments as data: scoring, band edges, answers naming the item, an
organisation's own definition, and properties over any valid answers."""
import math

import pytest
from hypothesis import given, strategies as st

from services.intake import domain
from services.intake.domain.instruments import Instrument
from shared.errors import InvalidInput

PHQ9, GAD7 = domain.PHQ9, domain.GAD7

# A made-up licensed-style scale where higher is better (like the ORS): four
# items 0-10, clinical below 25, one reverse-scored item, a risk item.
WELLBEING = {
    "code": "WB-4", "name": "Wellbeing check (test scale)",
    "items": ["Individually", "Interpersonally", "Socially", "Overall (reversed)"],
    "lowest": 0, "highest": 10, "reversed_items": [4], "higher_is_worse": False,
    "bands": [{"low": 0, "high": 24, "label": "clinical"},
              {"low": 25, "high": 40, "label": "non-clinical"}],
    "cut_off": 25, "sd": 8.0, "reliability": 0.8, "response_drop_percent": None,
    "remission_below": None, "risk_items": [{"item": 1, "above": 8, "reason": "test"}]}


def answers_totalling(instrument, total):
    answers = []
    for _ in range(instrument.item_count):
        step = min(instrument.highest, total)
        answers.append(step)
        total -= step
    return answers


@pytest.mark.parametrize("total,severity", [
    (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
    (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"),
    (20, "severe"), (27, "severe")])
def test_phq9_band_edges(total, severity):
    assert PHQ9.score(answers_totalling(PHQ9, total)) == (total, severity)


@pytest.mark.parametrize("total,severity", [
    (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
    (14, "moderate"), (15, "severe"), (21, "severe")])
def test_gad7_band_edges(total, severity):
    assert GAD7.score(answers_totalling(GAD7, total)) == (total, severity)


@pytest.mark.parametrize("answers,fields", [
    ([0] * 8, ["answers.9"]), ([0] * 7, ["answers.8", "answers.9"]),
    ([0] * 10, ["answers"]), ([0] * 8 + [4], ["answers.9"]), ([0] * 8 + [None], ["answers.9"]),
    ([-1] + [0] * 8, ["answers.1"]), ([0, "2"] + [0] * 7, ["answers.2"]),
    ([0, 0, True] + [0] * 6, ["answers.3"]), ([0, 0, 0, 1.5] + [0] * 5, ["answers.4"])])
def test_missing_or_out_of_range_answers_name_the_item(answers, fields):
    with pytest.raises(InvalidInput) as refused:
        PHQ9.score(answers)
    assert sorted(refused.value.fields) == fields


def test_the_built_in_thresholds_follow_from_their_sd_and_r():
    # 1.96 * sqrt(2) * SD * sqrt(1 - r) reproduces NHS Talking Therapies' 6 and 4 points.
    assert PHQ9.reliable_change_points == pytest.approx(6, abs=0.01)
    assert GAD7.reliable_change_points == pytest.approx(4, abs=0.01)
    assert (PHQ9.reliable_change_threshold, GAD7.reliable_change_threshold) == (6, 4)
    assert PHQ9.standard_error_of_difference == pytest.approx(
        math.sqrt(2) * 6.0 * math.sqrt(0.13))


def test_an_organisation_defines_its_own_instrument():
    catalogue = domain.InstrumentCatalogue.new("org-1")
    instrument, (event,) = domain.define_instrument(catalogue, WELLBEING, "admin-1",
                                                    "2026-01-01T09:00:00Z")
    assert event.name == "InstrumentDefined" and event.data["version"] == 1
    assert event.data["reliable_change_threshold"] == instrument.reliable_change_threshold == 10
    catalogue = domain.InstrumentCatalogue.of_organisation("org-1", [event.data])
    wb = catalogue.latest("WB-4")
    # item 4 is reversed: answering 10 there scores 0.
    assert wb.score([5, 5, 5, 10]) == (15, "clinical")
    assert wb.score([8, 8, 8, 2]) == (32, "non-clinical")
    assert wb.risks([9, 0, 0, 0])[0][0].item == 1
    # Higher is better: 15 -> 32 is a reliable improvement that left the clinical range.
    assert domain.category(wb, 15, 32) == "recovered"
    assert domain.category(wb, 32, 15) == "reliably_deteriorated"


def test_a_new_version_keeps_items_and_range_and_supersedes_the_old():
    catalogue = domain.InstrumentCatalogue.new("org-1")
    definition = {**PHQ9.to_data(), "sd": 5.5, "reliability": 0.84}
    definition.pop("version")
    definition.pop("reliable_change_threshold")
    instrument, (event,) = domain.define_instrument(catalogue, definition, "admin-1",
                                                    "2026-01-01T09:00:00Z")
    assert instrument.version == 2 and instrument.reliable_change_threshold == 7
    catalogue = domain.InstrumentCatalogue.of_organisation("org-1", [event.data])
    assert catalogue.latest("PHQ-9").version == 2 and catalogue.instrument("PHQ-9", 1) is PHQ9
    with pytest.raises(InvalidInput) as refused:
        domain.define_instrument(catalogue, {**definition, "items": definition["items"][:8],
                                             "bands": [{"low": 0, "high": 24, "label": "x"}]},
                                 "admin-1", "2026-01-01T09:00:00Z")
    assert "items" in refused.value.fields


@pytest.mark.parametrize("change,field", [
    ({"bands": [{"low": 0, "high": 20, "label": "a"}, {"low": 22, "high": 40, "label": "b"}]},
     "bands.1"),
    ({"bands": [{"low": 0, "high": 30, "label": "a"}]}, "bands"),
    ({"cut_off": 41}, "cut_off"), ({"sd": 0}, "sd"), ({"reliability": 1.0}, "reliability"),
    ({"reversed_items": [5]}, "reversed_items"),
    ({"response_drop_percent": 50}, "response_drop_percent"),
    ({"risk_items": [{"item": 9, "above": 0, "reason": "x"}]}, "risk_items.0.item"),
    ({"code": "no spaces"}, "code"),
    ({"reliable_change_threshold": 5}, "reliable_change_threshold")])
def test_an_inconsistent_definition_names_the_field(change, field):
    catalogue = domain.InstrumentCatalogue.new("org-1")
    with pytest.raises(InvalidInput) as refused:
        domain.define_instrument(catalogue, {**WELLBEING, **change}, "a", "2026-01-01T09:00:00Z")
    assert field in refused.value.fields


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_any_valid_phq9_answers_score_within_range(answers):
    total, severity = PHQ9.score(answers)
    assert 0 <= total <= 27 and total == sum(answers)
    assert severity in {band.label for band in PHQ9.bands}


@given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_any_valid_gad7_answers_score_within_range(answers):
    total, severity = GAD7.score(answers)
    assert 0 <= total <= 21 and severity in {band.label for band in GAD7.bands}


@given(st.lists(st.integers(0, 10), min_size=4, max_size=4))
def test_any_valid_answers_of_an_organisations_scale_score_within_range(answers):
    wb = Instrument.from_data({**WELLBEING, "version": 1})
    total, severity = wb.score(answers)
    assert wb.min_total <= total <= wb.max_total
    assert severity == ("clinical" if total < 25 else "non-clinical")
