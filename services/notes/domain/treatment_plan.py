"""A client's treatment plan: diagnoses, goals with Goal Attainment Scaling, stage.

The plan of a client is the stream `treatment-plan-<client_id>`. Goals follow
FHIR Goal's lifecycle (proposed, active, on_hold, completed, cancelled); a
revision or a status change never erases what was there: the events are the
history. Rules refuse bad input with InvalidInput naming the field, and a
command the plan's state forbids with Conflict, before anything is appended.
"""
import math
import re
from dataclasses import dataclass, field

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput, NotFound
from shared.vocabulary import GOAL_STATUSES, TREATMENT_STAGES

from .validation import Errors, integer, iso_date, text

DESCRIPTION_MAX = 2000
INSTRUMENT_MAX = 40
REASON_MAX = 2000

CLOSED = ("completed", "cancelled")
# Where a goal may go from each status (FHIR Goal.lifecycleStatus, the clinic's subset).
TRANSITIONS = {
    "proposed": ("active", "cancelled"),
    "active": ("on_hold", "completed", "cancelled"),
    "on_hold": ("active", "completed", "cancelled"),
    "completed": (),
    "cancelled": (),
}
DEFAULT_STATUS = "active"  # goals set before the lifecycle existed were active
NEW_STATUSES = ("proposed", "active")  # where a goal may start
REVISABLE = ("description", "target_date", "instrument", "target_score", "weight", "levels")

# Goal Attainment Scaling (Kiresuk & Sherman): the level names, -2 .. +2.
LEVELS = (("-2", "much less than expected"), ("-1", "less than expected"),
          ("0", "expected"), ("+1", "more than expected"), ("+2", "much more than expected"))
LEVEL_KEYS = tuple(key for key, _ in LEVELS)
LEVEL_TEXT_MAX = 1000
GAS_RHO = 0.3  # the usual inter-goal correlation in the T-score

# ICD-10(-CM): a letter (not U), a digit, a digit or letter, then an optional
# dot and 1-4 more; the published DiagnosesSet schema checks the same.
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
DIAGNOSES_MAX = 12  # a superbill carries at most 12 diagnosis pointers


@dataclass
class Goal:
    goal_id: str
    description: str
    target_date: str
    instrument: str
    target_score: int
    weight: int = 1
    levels: dict = None
    status: str = DEFAULT_STATUS
    ratings: list = field(default_factory=list)  # [(level, appointment_id, rated_at)]

    @property
    def latest_level(self):
        return self.ratings[-1][0] if self.ratings else None


@dataclass
class TreatmentPlan(Aggregate):
    """A client's treatment plan as notes' own events say it is."""
    STREAM = "treatment-plan-{}"
    client_id: str
    version: int = 0
    goals: dict = field(default_factory=dict)  # goal_id -> Goal
    diagnoses: list = field(default_factory=list)
    stage: str = None
    approaches: list = field(default_factory=list)  # domain/therapy.py
    approach_other_text: str = None

    def _on_GoalSet(self, event, data):
        self.goals[data["goal_id"]] = Goal(
            data["goal_id"], data["description"], data["target_date"], data["instrument"],
            data["target_score"], data.get("weight", 1), data.get("levels"),
            data.get("status", DEFAULT_STATUS))

    def _on_GoalRevised(self, event, data):
        goal = self.goals[data["goal_id"]]
        for key in REVISABLE:
            setattr(goal, key, data[key])

    def _on_GoalStatusChanged(self, event, data):
        self.goals[data["goal_id"]].status = data["status"]

    def _on_GoalRated(self, event, data):
        self.goals[data["goal_id"]].ratings.append(
            (data["level"], data["appointment_id"], data["rated_at"]))

    def _on_DiagnosesSet(self, event, data):
        self.diagnoses = list(data["codes"])

    def _on_TreatmentStageSet(self, event, data):
        self.stage = data["stage"]

    def _on_TreatmentApproachSet(self, event, data):
        self.approaches, self.approach_other_text = list(data["approaches"]), data["other_text"]

    def goal(self, goal_id):
        goal = self.goals.get(str(goal_id))
        if goal is None:
            raise NotFound("goal not found")
        return goal

    def t_score(self):
        """The GAS T-score over the goals rated so far (cancelled goals left out)."""
        rated = [(g.weight, g.latest_level) for g in self.goals.values()
                 if g.status != "cancelled" and g.latest_level is not None]
        return gas_t_score(rated)


def gas_t_score(weighted_levels, rho=GAS_RHO):
    """T = 50 + 10 * sum(w x) / sqrt((1 - rho) * sum(w^2) + rho * (sum w)^2), one decimal.

    `weighted_levels` is [(weight, attained level -2..+2)]; None when empty.
    T = 50 means the goals were met as expected.
    """
    pairs = list(weighted_levels)
    if not pairs:
        return None
    weighted = sum(w * x for w, x in pairs)
    squares = sum(w * w for w, _ in pairs)
    total = sum(w for w, _ in pairs)
    t = 50 + 10 * weighted / math.sqrt((1 - rho) * squares + rho * total * total)
    return round(t, 1)


# -- checks -----------------------------------------------------------------------
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


def _levels(value, errors):
    """The five GAS levels as {'-2': text, ..., '+2': text}, or None (not scaled yet)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.add("levels", "must map each level -2, -1, 0, +1, +2 to what it looks like")
        return None
    aliases = {"1": "+1", "2": "+2", "-0": "0", "+0": "0"}
    levels = {}
    for key, description in value.items():
        key = aliases.get(str(key).strip(), str(key).strip())
        if key not in LEVEL_KEYS:
            errors.add("levels", f"unknown level {key!r}; the levels are {', '.join(LEVEL_KEYS)}")
            continue
        if not isinstance(description, str) or not description.strip() \
                or len(description) > LEVEL_TEXT_MAX:
            errors.add("levels", f"level {key} must be text of 1-{LEVEL_TEXT_MAX} characters")
        levels[key] = description
    missing = [key for key in LEVEL_KEYS if key not in levels]
    if missing:
        errors.add("levels", f"all five levels are written when a goal is scaled; missing "
                             f"{', '.join(missing)}")
    return {key: levels[key] for key in LEVEL_KEYS if key in levels}


def _weight(value, errors):
    return integer(value, "weight", errors, minimum=1, maximum=100)


def _reason(value, errors):
    return text(value, "reason", errors, REASON_MAX, required=False)


# -- commands ---------------------------------------------------------------------
def set_goal(plan, goal_id, description, target_date, instrument, target_score, set_by, set_at,
             weight=1, levels=None, status=DEFAULT_STATUS):
    """Set one goal on the plan -> [GoalSet]. target_date and set_at are ISO strings.

    InvalidInput names every bad field; a target score needs its instrument; a
    new goal is proposed or active.
    """
    errors = Errors("goal")
    data = {
        "goal_id": goal_id, "client_id": plan.client_id,
        "description": text(description, "description", errors, DESCRIPTION_MAX),
        "target_date": iso_date(target_date, "target_date", errors),
        "instrument": _instrument(instrument, errors),
        "target_score": _target_score(target_score, instrument, errors),
        "weight": _weight(weight, errors),
        "levels": _levels(levels, errors),
        "status": status,
        "set_by": set_by, "set_at": set_at,
    }
    if status not in NEW_STATUSES:
        errors.add("status", "a new goal is proposed or active")
    errors.raise_any()
    return [NewEvent("GoalSet", data)]


def revise_goal(plan, goal_id, changes, reason, revised_by, revised_at):
    """Change some of a goal's terms -> [GoalRevised] carrying every term after the change.

    A closed goal (completed, cancelled) keeps the terms it closed with: Conflict.
    """
    goal = plan.goal(goal_id)
    if goal.status in CLOSED:
        raise Conflict(f"goal is {goal.status}: a closed goal keeps its terms; set a new goal")
    unknown = sorted(set(changes) - set(REVISABLE))
    if unknown:
        raise InvalidInput("unknown goal terms", {k: ["not a goal term"] for k in unknown})
    errors = Errors("goal revision")
    after = {key: getattr(goal, key) for key in REVISABLE}
    after.update(changes)
    data = {
        "goal_id": goal.goal_id, "client_id": plan.client_id,
        "description": text(after["description"], "description", errors, DESCRIPTION_MAX),
        "target_date": iso_date(after["target_date"], "target_date", errors),
        "instrument": _instrument(after["instrument"], errors),
        "target_score": _target_score(after["target_score"], after["instrument"], errors),
        "weight": _weight(after["weight"], errors),
        "levels": _levels(after["levels"], errors),
        "reason": _reason(reason, errors),
        "revised_by": revised_by, "revised_at": revised_at,
    }
    errors.raise_any()
    changed = [key for key in REVISABLE if data[key] != getattr(goal, key)]
    if not changed:
        raise InvalidInput("nothing to revise: the goal already has these terms",
                           {key: ["unchanged"] for key in sorted(changes) or ["description"]})
    data["changed"] = changed
    return [NewEvent("GoalRevised", data)]


def change_goal_status(plan, goal_id, status, reason, changed_by, changed_at):
    """Move a goal along its lifecycle -> [GoalStatusChanged]; Conflict if it may not go there."""
    goal = plan.goal(goal_id)
    if status not in GOAL_STATUSES:
        raise InvalidInput("unknown goal status",
                           {"status": [f"one of {', '.join(GOAL_STATUSES)}"]})
    errors = Errors("goal status")
    reason = _reason(reason, errors)
    errors.raise_any()
    if status not in TRANSITIONS[goal.status]:
        allowed = ", ".join(TRANSITIONS[goal.status]) or "nowhere: it is closed"
        raise Conflict(f"a {goal.status} goal cannot become {status} (it may go to {allowed})")
    return [NewEvent("GoalStatusChanged", {
        "goal_id": goal.goal_id, "client_id": plan.client_id, "status": status,
        "previous_status": goal.status, "reason": reason,
        "changed_by": changed_by, "changed_at": changed_at})]


def rate_goal(plan, goal_id, level, appointment_id, rated_by, rated_at):
    """Record the GAS level a goal was found at -> [GoalRated].

    Only an active goal with its five levels written can be rated.
    """
    goal = plan.goal(goal_id)
    errors = Errors("goal rating")
    integer(level, "level", errors, minimum=-2, maximum=2)
    errors.raise_any()
    if goal.status != "active":
        raise Conflict(f"only an active goal is rated; this one is {goal.status}")
    if not goal.levels:
        raise Conflict("this goal has no scale yet: revise it with its five levels first")
    return [NewEvent("GoalRated", {
        "goal_id": goal.goal_id, "client_id": plan.client_id, "level": level,
        "appointment_id": appointment_id, "rated_by": rated_by, "rated_at": rated_at})]


def set_diagnoses(plan, codes, set_by, set_at):
    """The plan's ICD-10 codes, primary first -> [DiagnosesSet] (empty clears them)."""
    errors = Errors("diagnoses")
    if not isinstance(codes, list):
        errors.add("codes", "must be a list of ICD-10 codes")
        errors.raise_any()
    cleaned = []
    for index, code in enumerate(codes):
        code = code.strip().upper() if isinstance(code, str) else code
        if not isinstance(code, str) or not ICD10.match(code):
            errors.add("codes", f"item {index}: {code!r} is not an ICD-10 code (e.g. F33.1)")
        elif code in cleaned:
            errors.add("codes", f"item {index}: {code} is listed twice")
        else:
            cleaned.append(code)
    if len(codes) > DIAGNOSES_MAX:
        errors.add("codes", f"at most {DIAGNOSES_MAX} codes")
    errors.raise_any()
    if cleaned == plan.diagnoses:
        raise Conflict("the plan already has exactly these diagnoses")
    return [NewEvent("DiagnosesSet", {"client_id": plan.client_id, "codes": cleaned,
                                      "set_by": set_by, "set_at": set_at})]


def set_stage(plan, stage, set_by, set_at):
    """The clinician's label for where treatment is -> [TreatmentStageSet]."""
    if stage not in TREATMENT_STAGES:
        raise InvalidInput("unknown stage",
                           {"stage": [f"one of {', '.join(TREATMENT_STAGES)}"]})
    if stage == plan.stage:
        raise Conflict(f"treatment is already at the {stage} stage")
    return [NewEvent("TreatmentStageSet", {"client_id": plan.client_id, "stage": stage,
                                           "previous_stage": plan.stage,
                                           "set_by": set_by, "set_at": set_at})]
