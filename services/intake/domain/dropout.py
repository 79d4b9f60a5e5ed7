"""The dropout-risk rule (issue 17 item 3): a weak alliance and missed sessions together
predict dropout. A client is at risk when, within the clinic's window before the
triggering fact, intake has flagged an alliance concern AND the client missed at least
`misses` sessions (late cancellations by the client and no-shows, from scheduling,
counted when scheduling recorded them).

The rule is part of the clinic's alliance settings (`dropout_misses`, null: off;
`dropout_window_days`). One flag is open at a time per client: no second one until a
clinician acknowledges it with what was done.
"""
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput, NotFound

DEFAULT_MISSES = 2
DEFAULT_WINDOW_DAYS = 60
MISSES_MAX = 20
WINDOW_DAYS_MAX = 365
LATE_CANCEL, NO_SHOW = "late_cancel", "no_show"
_NAMESPACE = uuid.UUID("9a0c1f37-52d4-4f0e-8f5e-64726f706f75")


@dataclass(frozen=True)
class DropoutRiskRule:
    misses: int = DEFAULT_MISSES          # None: the rule is off
    window_days: int = DEFAULT_WINDOW_DAYS

    @classmethod
    def of_settings(cls, settings):
        """From alliance settings (a command or an AllianceSettingsSet's data); settings
        made before the rule existed have the default."""
        return cls(settings.get("dropout_misses", DEFAULT_MISSES),
                   settings.get("dropout_window_days", DEFAULT_WINDOW_DAYS))

    def check(self):
        problems = {}
        if self.misses is not None and (isinstance(self.misses, bool)
                                        or not isinstance(self.misses, int)
                                        or not 1 <= self.misses <= MISSES_MAX):
            problems["dropout_misses"] = [f"an integer 1-{MISSES_MAX}, or null (off)"]
        if isinstance(self.window_days, bool) or not isinstance(self.window_days, int) \
                or not 1 <= self.window_days <= WINDOW_DAYS_MAX:
            problems["dropout_window_days"] = [f"an integer 1-{WINDOW_DAYS_MAX}"]
        if problems:
            raise InvalidInput("the dropout-risk rule is inconsistent", problems)
        return self

    def to_data(self):
        return {"dropout_misses": self.misses, "dropout_window_days": self.window_days}


@dataclass
class ClientDropoutRisk(Aggregate):
    """One client's dropout-risk flags: flag_id -> acknowledged?"""
    STREAM = "dropout-risk-{}"
    client_id: str
    flags: dict = field(default_factory=dict)

    def _on_DropoutRiskFlagged(self, event, data):
        self.flags[data["flag_id"]] = False

    def _on_DropoutRiskAcknowledged(self, event, data):
        self.flags[data["flag_id"]] = True

    @property
    def open(self):
        return any(not acknowledged for acknowledged in self.flags.values())


def assess(risk, rule, concerns, misses, at, trigger_id, flagged_at):
    """[DropoutRiskFlagged] or []. `concerns` [(flag_id, flagged_at)], `misses`
    [(appointment_id, kind, missed_at)] are datetimes; `at` is when the triggering fact
    happened: the window is (at - window_days, at], both ends as written."""
    if rule.misses is None or risk.open:
        return []
    since = at - timedelta(days=rule.window_days)
    recent = sorted(flag_id for flag_id, when in concerns if since < when <= at)
    missed = [(kind, appointment_id) for appointment_id, kind, when in misses
              if since < when <= at]
    if not recent or len(missed) < rule.misses:
        return []
    late = sum(1 for kind, _ in missed if kind == LATE_CANCEL)
    no_shows = len(missed) - late
    return [NewEvent("DropoutRiskFlagged", {
        "client_id": risk.client_id,
        "flag_id": str(uuid.uuid5(_NAMESPACE, f"{risk.client_id}/{trigger_id}")),
        "concern_flag_ids": recent, "late_cancels": late, "no_shows": no_shows,
        "window_days": rule.window_days, "misses_needed": rule.misses,
        "reason": (f"{len(recent)} alliance concern(s) and {len(missed)} missed sessions "
                   f"({late} late cancellations, {no_shows} no-shows) within "
                   f"{rule.window_days} days; the clinic flags {rule.misses} or more"),
        "flagged_at": flagged_at})]


def acknowledge(risk, flag_id, acknowledged_by, action_taken, acknowledged_at):
    if flag_id not in risk.flags:
        raise NotFound("dropout risk not found")
    if risk.flags[flag_id]:
        raise Conflict(f"dropout risk {flag_id} was acknowledged already",
                       {"flag_id": ["already acknowledged"]})
    return [NewEvent("DropoutRiskAcknowledged", {
        "client_id": risk.client_id, "flag_id": flag_id, "acknowledged_by": acknowledged_by,
        "acknowledged_at": acknowledged_at, "action_taken": action_taken})]
