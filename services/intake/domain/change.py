"""Change against the episode's baseline (Jacobson & Truax 1991).

RCI = (total - baseline) / S_diff, S_diff = sqrt(2) * SD * sqrt(1 - r).
The change is reliable when |RCI| > 1.96. Categories, judged in the direction
the instrument calls better:
- recovered: a reliable improvement that crossed from the clinical range at
  baseline to outside it now;
- reliably improved: any other reliable improvement;
- reliably deteriorated: a reliable change for the worse;
- no reliable change.
Response (total down at least the instrument's percentage from baseline) and
remission (total below the instrument's limit) are None when the instrument
does not define them.
"""
from shared.vocabulary import CHANGE_CATEGORIES

from .instruments import RELIABLE_Z

# The vocabulary's words, by name (it lists them best first).
RECOVERED, RELIABLY_IMPROVED, NO_RELIABLE_CHANGE, RELIABLY_DETERIORATED = CHANGE_CATEGORIES
IMPROVEMENTS = (RECOVERED, RELIABLY_IMPROVED)


def reliable_change_index(instrument, baseline_total, total):
    return (total - baseline_total) / instrument.standard_error_of_difference


def category(instrument, baseline_total, total):
    rci = reliable_change_index(instrument, baseline_total, total)
    if abs(rci) <= RELIABLE_Z:
        return NO_RELIABLE_CHANGE
    better = (rci < 0) == instrument.higher_is_worse
    if not better:
        return RELIABLY_DETERIORATED
    if instrument.is_clinical(baseline_total) and not instrument.is_clinical(total):
        return RECOVERED
    return RELIABLY_IMPROVED


def response(instrument, baseline_total, total):
    percent = instrument.response_drop_percent
    if percent is None:
        return None
    return baseline_total > 0 and (baseline_total - total) * 100 >= percent * baseline_total


def remission(instrument, total):
    if instrument.remission_below is None:
        return None
    return total < instrument.remission_below


def against_baseline(instrument, baseline_assessment_id, baseline_total, total):
    """The `change` of a ClientAssessed payload."""
    return {
        "baseline_assessment_id": baseline_assessment_id,
        "baseline_total": baseline_total,
        "difference": total - baseline_total,
        "rci": round(reliable_change_index(instrument, baseline_total, total), 3),
        "category": category(instrument, baseline_total, total),
        "response": response(instrument, baseline_total, total),
        "remission": remission(instrument, total),
    }
