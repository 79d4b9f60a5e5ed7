import pytest
from hypothesis import given, strategies as st

from services.intake import domain
from shared.errors import Conflict, InvalidInput

PHQ9 = domain.INSTRUMENTS["PHQ-9"]
GAD7 = domain.INSTRUMENTS["GAD-7"]


def answers_totalling(instrument, total):
    answers = []
    for _ in range(instrument.items):
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
    (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
    (15, "severe"), (21, "severe")])
def test_gad7_band_edges(total, severity):
    assert GAD7.score(answers_totalling(GAD7, total)) == (total, severity)


@pytest.mark.parametrize("answers,field", [
    ([0] * 8, "answers"), ([0] * 10, "answers"), ([0] * 8 + [4], "answers.9"),
    ([-1] + [0] * 8, "answers.1"), ([0, "2"] + [0] * 7, "answers.2"),
    ([0, 0, True] + [0] * 6, "answers.3"), ([0, 0, 0, 1.5] + [0] * 5, "answers.4")])
def test_bad_answers_name_the_item(answers, field):
    with pytest.raises(InvalidInput) as refused:
        PHQ9.score(answers)
    assert list(refused.value.fields) == [field]


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_any_valid_answers_score_within_range(answers):
    total, severity = PHQ9.score(answers)
    assert 0 <= total <= 27 and total == sum(answers)
    assert severity in {band[2] for band in PHQ9.bands}


def test_first_assessment_is_initial_then_reassessment():
    client = domain.Client("c-1", version=1, registered=True)
    (first,) = domain.assess(client, "a-1", "PHQ-9", [1] * 9, "2026-01-01T09:00:00Z")
    assert first.data["kind"] == "initial" and first.data["total"] == 9
    client.assessed_instruments.add("PHQ-9")
    (again,) = domain.assess(client, "a-2", "PHQ-9", [0] * 9, "2026-02-01T09:00:00Z")
    assert again.data["kind"] == "reassessment"
    (other,) = domain.assess(client, "a-3", "GAD-7", [0] * 7, "2026-02-01T09:00:00Z")
    assert other.data["kind"] == "initial"


def test_unknown_instrument_and_unregistered_client():
    client = domain.Client("c-1", registered=True)
    with pytest.raises(InvalidInput) as refused:
        domain.assess(client, "a", "BDI-II", [0] * 21, "2026-01-01T09:00:00Z")
    assert "instrument" in refused.value.fields
    with pytest.raises(Conflict):
        domain.assess(domain.Client("c-2"), "a", "PHQ-9", [0] * 9, "2026-01-01T09:00:00Z")
