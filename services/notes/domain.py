"""Notes' domain: a client's treatment plan and its goals. No framework imports.

The plan of a client is the stream `treatment-plan-<client_id>`; each goal set
on it is one GoalSet event. Rules refuse bad input with InvalidInput naming
the field, before anything is appended.
"""
from dataclasses import dataclass, field
from datetime import date

from shared.envelope import NewEvent
from shared.errors import InvalidInput

DESCRIPTION_MAX = 2000
INSTRUMENT_MAX = 40


@dataclass
class TreatmentPlan:
    """A client's treatment plan as notes' own events say it is."""
    client_id: str
    version: int = 0
    goals: dict = field(default_factory=dict)  # goal_id -> GoalSet data

    @classmethod
    def from_events(cls, client_id, events):
        plan = cls(client_id)
        for event in events:
            plan.version = event.sequence
            if event.name == "GoalSet":
                plan.goals[event.data["goal_id"]] = dict(event.data)
        return plan


def stream_of(client_id):
    return f"treatment-plan-{client_id}"


class _Errors(dict):
    """Field -> [messages]; every bad field is named in one answer."""

    def add(self, field_name, message):
        self.setdefault(field_name, []).append(message)

    def raise_any(self):
        if self:
            raise InvalidInput(f"invalid goal: {', '.join(sorted(self))}", dict(self))


def _description(value, errors):
    if not isinstance(value, str) or not value.strip():
        errors.add("description", "must be non-blank text")
    elif len(value) > DESCRIPTION_MAX:
        errors.add("description", f"at most {DESCRIPTION_MAX} characters")
    return value


def _target_date(value, errors):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    errors.add("target_date", "must be a date (YYYY-MM-DD)")
    return None


def _instrument(value, errors):
    if value is not None and (not isinstance(value, str) or not value.strip()
                              or len(value) > INSTRUMENT_MAX):
        errors.add("instrument", f"must be an instrument code of 1-{INSTRUMENT_MAX} characters")
    return value


def _target_score(value, instrument, errors):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors.add("target_score", "must be an integer >= 0")
    elif instrument is None:
        errors.add("target_score", "needs the instrument it is measured with")
    return value


def set_goal(plan, goal_id, description, target_date, instrument, target_score, set_by, set_at):
    """Set one goal on the plan -> [GoalSet]. target_date and set_at are ISO strings.

    InvalidInput names every bad field; a target score needs its instrument.
    """
    errors = _Errors()
    data = {
        "goal_id": goal_id, "client_id": plan.client_id,
        "description": _description(description, errors),
        "target_date": _target_date(target_date, errors),
        "instrument": _instrument(instrument, errors),
        "target_score": _target_score(target_score, instrument, errors),
        "set_by": set_by, "set_at": set_at,
    }
    errors.raise_any()
    return [NewEvent("GoalSet", data)]
