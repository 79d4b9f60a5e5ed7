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
from dataclasses import asdict, dataclass

from shared.envelope import NewEvent

NO_IMPROVEMENT = "no_reliable_improvement"
DETERIORATION = "reliable_deterioration"


@dataclass(frozen=True)
class NotOnTrackRule:
    reassessments_without_improvement: int = 2
    sessions_without_improvement: int = None
    on_reliable_deterioration: bool = True

    @classmethod
    def of_clinic(cls, events):
        """The latest NotOnTrackRuleSet of the clinic's stream, else the default."""
        rule = cls()
        for event in events:
            if event.name == "NotOnTrackRuleSet":
                rule = cls(event.data["reassessments_without_improvement"],
                           event.data["sessions_without_improvement"],
                           event.data["on_reliable_deterioration"])
        return rule

    def to_data(self):
        return asdict(self)


def rule_kind(rule_text):
    """'reassessments_without_improvement=2' -> the once-per-episode key."""
    return DETERIORATION if rule_text == DETERIORATION else NO_IMPROVEMENT


def not_on_track_rule_stream(organisation_id, clinic_id):
    return f"not-on-track-rule-{organisation_id}/{clinic_id}"


def set_not_on_track_rule(rule, set_by, set_at):
    return [NewEvent("NotOnTrackRuleSet", {**rule.to_data(), "set_by": set_by,
                                           "set_at": set_at})]
