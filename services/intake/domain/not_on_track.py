"""The not-on-track rule: explicit, and configurable per clinic.

A client is flagged not on track for an instrument, once per episode of care
and reason, when
- `reassessments_without_improvement` = N: the Nth (or any later)
  reassessment of the instrument in the episode is still not a reliable
  improvement (nor a recovery) against the episode's baseline;
- `sessions_without_improvement` = N: by session N of the episode (as
  scheduling numbers the sessions held) the latest assessment of the
  instrument shows no reliable improvement against the baseline (or there is
  only the baseline);
- `on_reliable_deterioration`: any assessment is reliably worse than the
  baseline (besides the ReliableDeteriorationDetected alert it always raises).
None (or False) turns a part off. The default, until a clinic sets its own:
2 reassessments, sessions off, deterioration on.
"""
from dataclasses import dataclass

from shared.aggregate import Aggregate
from shared.envelope import NewEvent

NO_IMPROVEMENT = "no_reliable_improvement"
DETERIORATION = "reliable_deterioration"
# What a clinic sets: the fields of NotOnTrackRuleSet besides who set it and when.
SETTINGS = ("reassessments_without_improvement", "sessions_without_improvement",
            "on_reliable_deterioration")


@dataclass
class NotOnTrackRule(Aggregate):
    """A clinic's rule: the latest NotOnTrackRuleSet of its stream, else the default."""
    STREAM = "not-on-track-rule-{}/{}"
    organisation_id: str = None
    clinic_id: str = None
    reassessments_without_improvement: int = 2
    sessions_without_improvement: int = None
    on_reliable_deterioration: bool = True

    def _on_NotOnTrackRuleSet(self, event, data):
        for name in SETTINGS:
            setattr(self, name, data[name])

    def to_data(self):
        return {name: getattr(self, name) for name in SETTINGS}


def rule_kind(rule_text):
    """'reassessments_without_improvement=2' -> the once-per-episode key."""
    return DETERIORATION if rule_text == DETERIORATION else NO_IMPROVEMENT


def set_not_on_track_rule(settings, set_by, set_at):
    """NotOnTrackRuleSet: the clinic's rule is `settings` from now on, whatever it was
    (a blind write: nothing is decided from the rule in force)."""
    return [NewEvent("NotOnTrackRuleSet", {**{name: settings[name] for name in SETTINGS},
                                           "set_by": set_by, "set_at": set_at})]
