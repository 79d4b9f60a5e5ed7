"""The reassessment cadence: when a client is due the same instruments again.

A policy is per clinic, overridable per client: every N sessions, every D days
since the last assessment, or both (due at whichever comes first); every
session is N = 1. A cycle runs from one assessment to the next (named by the
assessment that opened it; 'none' before the first) and is flagged due at most
once: the ReassessmentDue event id derives from the client and the cycle, and
the store refuses a second event with the same id. Days count only from an
assessment: before the first one there is nothing to measure time from.

Everything here is a rule over plain values (the policy, the latest assessment,
when each session was held, which cycles were already flagged), so a session
held, a late assessment and the periodic timer all ask the same question.
"""
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import InvalidInput
from shared.timeutil import iso

DEFAULT_EVERY_SESSIONS = 4
OVERDUE_AFTER_DAYS = 14  # a due reassessment still not done after this is overdue

# Fixed forever: ReassessmentDue ids derive from it, and the events table's
# unique event_id is what makes a second emission for one cycle impossible.
REASSESSMENT_NAMESPACE = uuid.UUID("5b0f3c3e-9d53-4f7a-a4a4-3c1f1d6b2e71")


def cycle_key(last_assessment_id):
    """A cadence cycle is named by the assessment that opened it ('none' before any)."""
    return str(last_assessment_id) if last_assessment_id else "none"


def reassessment_event_id(client_id, last_assessment_id):
    return str(uuid.uuid5(REASSESSMENT_NAMESPACE,
                          f"ReassessmentDue:{client_id}:{cycle_key(last_assessment_id)}"))


@dataclass(frozen=True)
class Policy:
    every_sessions: int = None
    every_days: int = None

    def describe(self):
        parts = []
        if self.every_sessions:
            parts.append(f"every {self.every_sessions} session"
                         + ("s" if self.every_sessions != 1 else ""))
        if self.every_days:
            parts.append(f"every {self.every_days} days")
        return " or ".join(parts) + (", whichever first" if len(parts) == 2 else "")


DEFAULT_POLICY = Policy(every_sessions=DEFAULT_EVERY_SESSIONS)


def effective_policy(clinic_policy, client_policy):
    """The client's own policy when there is one, else the clinic's, else the default."""
    return client_policy or clinic_policy or DEFAULT_POLICY


def _limit(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{name} must be a positive integer", {name: ["must be an integer >= 1"]})
    return value


def set_policy(every_sessions=None, every_days=None, client_id=None):
    """ReassessmentPolicySet for a clinic (client_id None) or one client. A clinic
    policy names at least one limit; a client's with none returns the client to
    the clinic's policy."""
    every_sessions = _limit(every_sessions, "every_sessions")
    every_days = _limit(every_days, "every_days")
    if client_id is None and every_sessions is None and every_days is None:
        raise InvalidInput("a policy needs every_sessions, every_days or both",
                           {"every_sessions": ["give every_sessions, every_days or both"]})
    data = {"every_sessions": every_sessions, "every_days": every_days}
    if client_id is not None:
        data["client_id"] = str(client_id)
    return [NewEvent("ReassessmentPolicySet", data)]


def supersedes(current_assessed_at, new_assessed_at):
    """Does an assessment at `new_assessed_at` replace the one held? Events may
    arrive late: an assessment no newer than the one held changes nothing."""
    return current_assessed_at is None or new_assessed_at > current_assessed_at


@dataclass
class Cadence(Aggregate):
    """What the cadence rule needs to know about one client. Its stream holds the
    ReassessmentDue events (the cycles already flagged); the assessments and the
    sessions held are facts of other streams, given by `assessed` and `held`."""
    STREAM = "reassessment-{}"

    client_id: str
    last_assessment_id: str = None
    last_assessed_at: datetime = None
    held_at: list = field(default_factory=list)      # when each session was held
    flagged_cycles: set = field(default_factory=set)  # cycle_key()s already due
    version: int = 0

    def _on_ReassessmentDue(self, event, data):
        self.flagged(data["last_assessment_id"])

    def assessed(self, assessment_id, assessed_at):
        """Take a (possibly late) assessment; False when it is older and ignored."""
        if not supersedes(self.last_assessed_at, assessed_at):
            return False
        self.last_assessment_id, self.last_assessed_at = str(assessment_id), assessed_at
        return True

    def held(self, at):
        self.held_at.append(at)

    def flagged(self, last_assessment_id):
        self.flagged_cycles.add(cycle_key(last_assessment_id))

    @property
    def sessions_held_since(self):
        """When each session since the last assessment was held, oldest first."""
        return sorted(at for at in self.held_at
                      if self.last_assessed_at is None or at > self.last_assessed_at)

    @property
    def sessions_since_assessment(self):
        return len(self.sessions_held_since)

    @property
    def cycle_flagged(self):
        return cycle_key(self.last_assessment_id) in self.flagged_cycles

    def due(self, policy, now):
        """(due_at, due_by) of the current cycle by `now`, or None. due_at is when it
        became due (the Nth session, or the last assessment plus D days), so whoever
        decides, whenever, the answer is the same."""
        moments = []
        held = self.sessions_held_since
        if policy.every_sessions and len(held) >= policy.every_sessions:
            moments.append((held[policy.every_sessions - 1], "sessions"))
        if policy.every_days and self.last_assessed_at is not None:
            deadline = self.last_assessed_at + timedelta(days=policy.every_days)
            if deadline <= now:
                moments.append((deadline, "days"))
        return min(moments) if moments else None

    def decide(self, policy, now):
        """ReassessmentDue once per cycle when the policy says so by `now`; else []."""
        due = self.due(policy, now)
        if due is None or self.cycle_flagged:
            return []
        due_at, due_by = due
        count = self.sessions_since_assessment
        since = "the last assessment" if self.last_assessment_id else "registration"
        plural = "session" if count == 1 else "sessions"
        if due_by == "sessions":
            reason = f"{count} {plural} held since {since} (policy: {policy.describe()})"
        else:
            reason = (f"{policy.every_days} days since the last assessment, {count} {plural} "
                      f"held (policy: {policy.describe()})")
        return [NewEvent("ReassessmentDue", {
            "client_id": str(self.client_id), "sessions_since_assessment": count,
            "last_assessment_id": self.last_assessment_id, "reason": reason,
            "due_at": iso(due_at), "due_by": due_by},
            id=reassessment_event_id(self.client_id, self.last_assessment_id))]
