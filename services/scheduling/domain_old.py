"""Scheduling's domain: appointments, sessions held and the reassessment cadence.

No framework imports. Times come in as aware datetimes and go out as the
ISO strings events carry (shared.timeutil.iso). The cadence is a rule over
plain values (the clinic's policy, the client's latest assessment, when each
session was held, which cycles were already flagged), so the application can
feed it from read models and the tests from literals.
"""
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput
from shared.timeutil import iso

MODALITIES = ("in_person", "video")
MAX_MINUTES = 24 * 60
DEFAULT_EVERY_SESSIONS = 4

# Fixed forever: ReassessmentDue ids derive from it, and the events table's
# unique event_id is what makes a second emission for one cycle impossible.
REASSESSMENT_NAMESPACE = uuid.UUID("5b0f3c3e-9d53-4f7a-a4a4-3c1f1d6b2e71")


def appointment_stream(appointment_id):
    return f"appointment-{appointment_id}"


def clinic_stream(organisation_id, clinic_id):
    return f"clinic-{organisation_id}/{clinic_id}"


def reassessment_stream(client_id):
    return f"reassessment-{client_id}"


def cycle_key(last_assessment_id):
    """A cadence cycle is named by the assessment that opened it ('none' before any)."""
    return str(last_assessment_id) if last_assessment_id else "none"


def reassessment_event_id(client_id, last_assessment_id):
    return str(uuid.uuid5(REASSESSMENT_NAMESPACE,
                          f"ReassessmentDue:{client_id}:{cycle_key(last_assessment_id)}"))


def _aware(value, name):
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"{name} must be a date-time with a time zone",
                           {name: ["must be a date-time with a time zone"]})
    return value


def _minutes(value, name, lowest):
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= MAX_MINUTES:
        raise InvalidInput(f"{name} is out of range",
                           {name: [f"must be an integer {lowest}-{MAX_MINUTES}"]})
    return value


# -- appointments ----------------------------------------------------------
@dataclass
class Appointment:
    """An appointment as scheduling's events say it is."""
    appointment_id: str
    version: int = 0
    booked: bool = False
    held: bool = False
    client_id: str = None
    clinician_id: str = None
    start: str = None
    duration_minutes: int = None
    modality: str = None

    @classmethod
    def from_events(cls, appointment_id, events):
        appointment = cls(appointment_id)
        for event in events:
            appointment.version = event.sequence
            data = event.data
            if event.name == "AppointmentBooked":
                appointment.booked = True
                appointment.client_id = data["client_id"]
                appointment.clinician_id = data["clinician_id"]
                appointment.start = data["start"]
                appointment.duration_minutes = data["duration_minutes"]
                appointment.modality = data["modality"]
            elif event.name == "SessionHeld":
                appointment.held = True
        return appointment


def book(appointment_id, client_id, clinician_id, start, duration_minutes, modality):
    if not clinician_id:
        raise InvalidInput("clinician_id is required", {"clinician_id": ["must not be empty"]})
    _aware(start, "start")
    _minutes(duration_minutes, "duration_minutes", 1)
    if modality not in MODALITIES:
        raise InvalidInput(f"unknown modality {modality!r}",
                           {"modality": [f"one of {', '.join(MODALITIES)}"]})
    return [NewEvent("AppointmentBooked", {
        "appointment_id": str(appointment_id), "client_id": str(client_id),
        "clinician_id": clinician_id, "start": iso(start),
        "duration_minutes": duration_minutes, "modality": modality})]


def hold(appointment, minutes, held_before):
    """The session took place, `minutes` face to face; `held_before` counts the
    client's sessions already held, so this one is number held_before + 1."""
    if not appointment.booked:
        raise Conflict(f"appointment {appointment.appointment_id} is not booked")
    if appointment.held:
        raise Conflict(f"appointment {appointment.appointment_id} was already held")
    _minutes(minutes, "minutes", 0)
    return [NewEvent("SessionHeld", {
        "appointment_id": appointment.appointment_id, "client_id": appointment.client_id,
        "clinician_id": appointment.clinician_id, "start": appointment.start,
        "minutes": minutes, "modality": appointment.modality,
        "session_number": held_before + 1})]


# -- the reassessment cadence ---------------------------------------------
def set_policy(every_sessions):
    if isinstance(every_sessions, bool) or not isinstance(every_sessions, int) \
            or every_sessions < 1:
        raise InvalidInput("every_sessions must be a positive integer",
                           {"every_sessions": ["must be an integer >= 1"]})
    return [NewEvent("ReassessmentPolicySet", {"every_sessions": every_sessions})]


def supersedes(current_assessed_at, new_assessed_at):
    """Does an assessment at `new_assessed_at` replace the one held? Events may
    arrive late: an assessment no newer than the one held changes nothing."""
    return current_assessed_at is None or new_assessed_at > current_assessed_at


@dataclass
class Cadence:
    """What the cadence rule needs to know about one client."""
    client_id: str
    last_assessment_id: str = None
    last_assessed_at: datetime = None
    held_at: list = field(default_factory=list)      # when each session was held
    flagged_cycles: set = field(default_factory=set)  # cycle_key()s already due

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
    def sessions_since_assessment(self):
        if self.last_assessed_at is None:
            return len(self.held_at)
        return sum(1 for at in self.held_at if at > self.last_assessed_at)

    def is_due(self, every_sessions):
        return self.sessions_since_assessment >= every_sessions

    def decide(self, every_sessions, due_at):
        """ReassessmentDue once per cycle, when the sessions since the last
        assessment reach the clinic's `every_sessions`; else nothing."""
        if not self.is_due(every_sessions) \
                or cycle_key(self.last_assessment_id) in self.flagged_cycles:
            return []
        count = self.sessions_since_assessment
        since = "the last assessment" if self.last_assessment_id else "registration"
        plural = "session" if count == 1 else "sessions"
        return [NewEvent("ReassessmentDue", {
            "client_id": str(self.client_id), "sessions_since_assessment": count,
            "last_assessment_id": self.last_assessment_id,
            "reason": f"{count} {plural} held since {since} (policy: every {every_sessions})",
            "due_at": iso(due_at)},
            id=reassessment_event_id(self.client_id, self.last_assessment_id))]
