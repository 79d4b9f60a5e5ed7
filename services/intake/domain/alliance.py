"""The therapeutic alliance: measures of kind `alliance`, scoring, and rupture flags.

An alliance measure is data like any instrument: its items (construct names
only; the built-ins carry no licensed item wording), the answer range, the
subscales (which items each sums) and the concern threshold (a total below it
is a concern). Two ship built in as version 1:
- SRS: a four-item session rating scale, 0-10 per item (total 0-40), concern
  below 36;
- WAI-SR: a twelve-item working-alliance inventory, 1-5 per item (total 12-60)
  with goal, task and bond subscales of four items each (total and mean each),
  concern below 36 (an item mean below 3).

A client's ratings live in their own stream (ClientAlliance): one rating per
held session (a second is refused, 409: the rating is what the client said
after that session, not a draft), and the concern flags it raised until a
clinician acknowledges each with what was done (like risk flags).

The rupture rule (AllianceRule, per clinic): a rating is a concern when its total
is below the measure's threshold, or when it is `drop_points` or more below the
client's own running mean of their earlier ratings on the same measure.
"""
import uuid
from dataclasses import dataclass, field
from typing import NamedTuple

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput, NotFound

from .clients import NAMESPACE
from .dropout import DropoutRiskRule  # noqa: F401 (the settings carry its rule)

KIND = "alliance"
BELOW_THRESHOLD = "below_threshold"
DROP_FROM_MEAN = "drop_from_mean"


@dataclass(frozen=True)
class Subscale:
    name: str
    items: tuple  # 1-based item numbers it sums


class AllianceScore(NamedTuple):
    total: int
    subscales: dict  # name -> {"total": int, "mean": float}


@dataclass(frozen=True)
class AllianceMeasure:
    code: str
    version: int
    name: str
    items: tuple        # construct names, in order
    lowest: int         # every item is answered lowest..highest
    highest: int
    concern_below: int  # a total below this is a concern
    subscales: tuple = ()
    built_in: bool = False
    kind: str = KIND

    @property
    def item_count(self):
        return len(self.items)

    def check_scores(self, scores):
        """InvalidInput naming every missing or out-of-range item."""
        if not isinstance(scores, list):
            raise InvalidInput(f"{self.code} needs a list of item scores",
                               {"item_scores": [f"a list of {self.item_count} scores"]})
        problems = {}
        if len(scores) > self.item_count:
            problems["item_scores"] = [f"{self.code} has {self.item_count} items; "
                                       f"got {len(scores)} scores"]
        for number in range(1, self.item_count + 1):
            score = scores[number - 1] if number <= len(scores) else None
            if score is None:
                problems[f"item_scores.{number}"] = [
                    f"missing: item {number} needs a score {self.lowest}-{self.highest}"]
            elif isinstance(score, bool) or not isinstance(score, int) \
                    or not self.lowest <= score <= self.highest:
                problems[f"item_scores.{number}"] = [
                    f"must be an integer {self.lowest}-{self.highest}"]
        if problems:
            first = next(iter(problems))
            raise InvalidInput(f"{self.code} item scores are incomplete or out of range "
                               f"({first})", problems)

    def score(self, scores):
        """-> AllianceScore of a complete, in-range set of item scores."""
        self.check_scores(scores)
        subscales = {}
        for subscale in self.subscales:
            total = sum(scores[number - 1] for number in subscale.items)
            subscales[subscale.name] = {"total": total,
                                        "mean": round(total / len(subscale.items), 2)}
        return AllianceScore(sum(scores), subscales)

    def is_concern(self, total):
        return total < self.concern_below

    def to_data(self):
        return {"code": self.code, "version": self.version, "name": self.name,
                "kind": self.kind, "items": list(self.items), "lowest": self.lowest,
                "highest": self.highest, "concern_below": self.concern_below,
                "subscales": [{"name": s.name, "items": list(s.items)}
                              for s in self.subscales]}


SRS = AllianceMeasure(
    code="SRS", version=1, name="Session rating scale (alliance, four items)",
    items=("relationship", "goals and topics", "approach or method", "overall"),
    lowest=0, highest=10, concern_below=36, built_in=True)

# Subscale items as the short-form inventory scores them.
WAI_SR = AllianceMeasure(
    code="WAI-SR", version=1, name="Working alliance inventory (twelve items)",
    items=("task", "task", "bond", "goal", "bond", "goal", "bond", "goal", "bond", "task",
           "goal", "task"),
    lowest=1, highest=5, concern_below=36,
    subscales=(Subscale("goal", (4, 6, 8, 11)), Subscale("task", (1, 2, 10, 12)),
               Subscale("bond", (3, 5, 7, 9))),
    built_in=True)

BUILT_IN = {measure.code: measure for measure in (SRS, WAI_SR)}


def measure(code):
    try:
        return BUILT_IN[code]
    except KeyError:
        raise InvalidInput(f"unknown alliance measure {code!r}",
                           {"instrument": [f"one of {', '.join(sorted(BUILT_IN))}"]}) from None


SETTINGS = ("instrument", "every_sessions", "drop_points")


@dataclass
class AllianceRule(Aggregate):
    """A clinic's alliance settings (the latest AllianceSettingsSet of its stream, else
    the default): which measure, how often (every Nth session held, from the first),
    and the drop from the client's running mean that is a concern (None: off)."""
    STREAM = "alliance-rule-{}/{}"
    organisation_id: str = None
    clinic_id: str = None
    instrument: str = SRS.code
    every_sessions: int = 1
    drop_points: int = 5

    def _on_AllianceSettingsSet(self, event, data):
        for name in SETTINGS:
            setattr(self, name, data[name])

    def to_data(self):
        return {name: getattr(self, name) for name in SETTINGS}

    def check(self):
        problems = {}
        if self.instrument not in BUILT_IN:
            problems["instrument"] = [f"one of {', '.join(sorted(BUILT_IN))}"]
        if isinstance(self.every_sessions, bool) or not isinstance(self.every_sessions, int) \
                or self.every_sessions < 1:
            problems["every_sessions"] = ["an integer of at least 1"]
        if self.drop_points is not None and (
                isinstance(self.drop_points, bool) or not isinstance(self.drop_points, int)
                or self.drop_points < 1):
            problems["drop_points"] = ["an integer of at least 1, or null (off)"]
        if problems:
            raise InvalidInput("alliance settings are inconsistent", problems)
        return self

    def require_due(self, session_number):
        if (session_number - 1) % self.every_sessions:
            raise Conflict(f"the clinic asks for an alliance rating every "
                           f"{self.every_sessions} sessions; session {session_number} is "
                           "not one of them", {"session_id": ["no rating asked for"]})

    def is_due(self, session_number):
        """Whether the clinic asks for a rating of the session with this number."""
        return (session_number - 1) % self.every_sessions == 0


def set_settings(settings, set_by, set_at):
    """AllianceSettingsSet: the clinic's settings from now on (a blind write)."""
    AllianceRule(**{name: settings[name] for name in SETTINGS}).check()
    dropout_rule = DropoutRiskRule.of_settings(settings).check()
    return [NewEvent("AllianceSettingsSet", {**{name: settings[name] for name in SETTINGS},
                                             **dropout_rule.to_data(),
                                             "set_by": set_by, "set_at": set_at})]


def concern_reasons(measure_, rule, earlier_totals, total):
    """[(reason, text)] for a rating of `total` after `earlier_totals` (same measure)."""
    reasons = []
    if measure_.is_concern(total):
        reasons.append((BELOW_THRESHOLD,
                        f"{measure_.code} total {total} is below {measure_.concern_below}"))
    if rule.drop_points is not None and earlier_totals:
        mean = sum(earlier_totals) / len(earlier_totals)
        if mean - total >= rule.drop_points:
            reasons.append((DROP_FROM_MEAN,
                            f"{measure_.code} total {total} is {mean - total:g} below the "
                            f"client's running mean {mean:g} (the clinic flags drops of "
                            f"{rule.drop_points} or more)"))
    return reasons


def concern_flag_id(client_id, session_id):
    return str(uuid.uuid5(NAMESPACE, f"{client_id}/alliance/{session_id}"))


@dataclass
class ClientAlliance(Aggregate):
    """One client's alliance ratings and the concerns they raised."""
    STREAM = "alliance-{}"
    client_id: str
    ratings: dict = field(default_factory=dict)   # session_id -> (instrument, total)
    concerns: dict = field(default_factory=dict)  # flag_id -> acknowledged?

    def _on_AllianceRated(self, event, data):
        self.ratings[data["session_id"]] = (data["instrument"], data["total"])

    def _on_AllianceConcernFlagged(self, event, data):
        self.concerns[data["flag_id"]] = False

    def _on_AllianceConcernAcknowledged(self, event, data):
        self.concerns[data["flag_id"]] = True

    def totals_of(self, code):
        return [total for instrument, total in self.ratings.values() if instrument == code]


def rate_session(alliance, rule, session, item_scores, rated_by, rated_at):
    """AllianceRated for a held session, plus AllianceConcernFlagged when the
    rupture rule fires. `session` is the held session as intake knows it
    ({"session_id", "session_number"}); `rated_by` is "client" or "clinician"."""
    session_id = str(session["session_id"])
    if session_id in alliance.ratings:
        raise Conflict(f"session {session_id} has an alliance rating already",
                       {"session_id": ["rated already; one rating per session"]})
    rule.require_due(session["session_number"])
    measure_ = measure(rule.instrument)
    score = measure_.score(item_scores)
    rated = NewEvent("AllianceRated", {
        "client_id": alliance.client_id, "session_id": session_id,
        "session_number": session["session_number"], "instrument": measure_.code,
        "instrument_version": measure_.version, "item_scores": list(item_scores),
        "total": score.total, "subscales": score.subscales, "rated_by": rated_by,
        "rated_at": rated_at})
    reasons = concern_reasons(measure_, rule, alliance.totals_of(measure_.code), score.total)
    if not reasons:
        return [rated]
    return [rated, NewEvent("AllianceConcernFlagged", {
        "client_id": alliance.client_id,
        "flag_id": concern_flag_id(alliance.client_id, session_id),
        "session_id": session_id, "instrument": measure_.code, "total": score.total,
        "rules": [rule_name for rule_name, _ in reasons],
        "reason": "; ".join(text for _, text in reasons), "flagged_at": rated_at})]


def acknowledge_concern(alliance, flag_id, acknowledged_by, action_taken, acknowledged_at):
    if flag_id not in alliance.concerns:
        raise NotFound("alliance concern not found")
    if alliance.concerns[flag_id]:
        raise Conflict(f"alliance concern {flag_id} was acknowledged already",
                       {"flag_id": ["already acknowledged"]})
    return [NewEvent("AllianceConcernAcknowledged", {
        "client_id": alliance.client_id, "flag_id": flag_id,
        "acknowledged_by": acknowledged_by, "acknowledged_at": acknowledged_at,
        "action_taken": action_taken})]
