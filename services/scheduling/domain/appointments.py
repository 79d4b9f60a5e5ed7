"""An appointment's life: booked, maybe moved, then checked in and held, or
cancelled, or a no-show. And the rule that nobody is in two places at once.

An appointment is open (it can still be moved, held or cancelled) while it is
booked or checked in. Every appointment but a cancelled one occupies its
clinician, client and room: a session held or a no-show happened at that time.
A session is held from its start on (HOLD_EARLY_TOLERANCE allows for clocks a
few minutes apart); a no-show is recorded from the start on.
"""
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput
from shared.timeutil import iso, parse_time
from shared.vocabulary import CANCELLED_BY, MODALITIES, PLACES_OF_SERVICE, SESSION_TYPES  # noqa: F401 (re-exported)

from .calendar import ClinicSettings

# The one vocabulary of modalities: each code and the words a person reads.
MODALITY_WORDS = {"in_person": "In person", "video": "Telehealth (video)",
                  "phone": "Telehealth (phone)"}
assert tuple(MODALITY_WORDS) == MODALITIES
OPEN = ("booked", "checked_in")
# What still occupies its slot: all but a cancelled appointment.
OCCUPYING = ("booked", "checked_in", "held", "no_show")
# How early a session may be marked held: clocks of the devices and servers involved
# may be a few minutes apart. A future appointment is never held (nor billed).
HOLD_EARLY_TOLERANCE = timedelta(minutes=5)
MAX_MINUTES = 24 * 60
DEFAULT_SESSION_TYPE = "individual"


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


def _one_of(value, allowed, name):
    if value not in allowed:
        raise InvalidInput(f"unknown {name} {value!r}", {name: [f"one of {', '.join(allowed)}"]})
    return value


def default_place_of_service(modality):
    """In person means the office; video and phone reach the client at home unless
    the session says otherwise."""
    return "office" if modality == "in_person" else "client_home"


# -- the double-booking rule -------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """Who and what an appointment occupies, and when."""
    appointment_id: str
    client_id: str
    clinician_id: str
    room_id: str
    start: datetime
    end: datetime


class DoubleBooking(Conflict):
    """409 naming the appointment already in the way."""
    code = "double_booking"

    def __init__(self, what, who, slot):
        super().__init__(
            f"{what} {who} is already in appointment {slot.appointment_id} "
            f"({iso(slot.start)} to {iso(slot.end)})",
            {f"{what}_id": [f"busy in appointment {slot.appointment_id}"]})
        self.conflicting_appointment_id = slot.appointment_id

    def to_dict(self):
        body = super().to_dict()
        body["conflicting_appointment_id"] = self.conflicting_appointment_id
        return body


def check_free(wanted, taken):
    """Raise DoubleBooking when the clinician, the client or the room of `wanted`
    (a Slot) is in an overlapping slot of `taken`; touching end to start is fine."""
    for slot in sorted(taken, key=lambda s: (s.start, s.appointment_id)):
        if slot.appointment_id == wanted.appointment_id:
            continue
        if not (slot.start < wanted.end and wanted.start < slot.end):
            continue
        if slot.clinician_id == wanted.clinician_id:
            raise DoubleBooking("clinician", wanted.clinician_id, slot)
        if slot.client_id == wanted.client_id:
            raise DoubleBooking("client", wanted.client_id, slot)
        if wanted.room_id is not None and slot.room_id == wanted.room_id:
            raise DoubleBooking("room", wanted.room_id, slot)


# -- the appointment ---------------------------------------------------------
@dataclass
class Appointment(Aggregate):
    """An appointment as scheduling's events say it is."""
    STREAM = "appointment-{}"

    appointment_id: str
    version: int = 0
    status: str = None  # None (never booked), booked, checked_in, held, cancelled, no_show
    client_id: str = None
    clinician_id: str = None
    start: datetime = None
    duration_minutes: int = None
    modality: str = None
    session_type: str = DEFAULT_SESSION_TYPE
    room_id: str = None
    series_id: str = None

    @property
    def booked(self):
        return self.status is not None

    @property
    def held(self):
        return self.status == "held"

    def slot(self, start=None, duration_minutes=None, room_id=None):
        start = start or self.start
        return Slot(self.appointment_id, self.client_id, self.clinician_id, room_id, start,
                    start + timedelta(minutes=duration_minutes or self.duration_minutes))

    def _on_AppointmentBooked(self, event, data):
        self.status = "booked"
        self.client_id = data["client_id"]
        self.clinician_id = data["clinician_id"]
        self.start = parse_time(data["start"])
        self.duration_minutes = data["duration_minutes"]
        self.modality = data["modality"]
        self.session_type = data.get("session_type") or DEFAULT_SESSION_TYPE
        self.room_id = data.get("room_id")
        self.series_id = data.get("series_id")

    def _on_AppointmentRescheduled(self, event, data):
        self.start = parse_time(data["start"])
        self.duration_minutes = data["duration_minutes"]
        self.room_id = data.get("room_id")

    def _on_ClientCheckedIn(self, event, data):
        self.status = "checked_in"

    def _on_SessionHeld(self, event, data):
        self.status = "held"

    def _on_AppointmentCancelled(self, event, data):
        self.status = "cancelled"

    def _on_AppointmentNoShow(self, event, data):
        self.status = "no_show"

    def require_open(self, doing):
        if not self.booked:
            raise Conflict(f"appointment {self.appointment_id} is not booked")
        if self.status == "held":
            raise Conflict(f"cannot {doing}: appointment {self.appointment_id} was already held")
        if self.status not in OPEN:
            state = self.status.replace("_", " ")
            raise Conflict(f"cannot {doing}: appointment {self.appointment_id} is {state}")


def _room(modality, room_id, rooms):
    if room_id is None:
        return None
    if modality != "in_person":
        raise InvalidInput("a room is only for in-person appointments",
                           {"room_id": ["only with modality in_person"]})
    if room_id not in rooms:
        raise InvalidInput(f"room {room_id} is not a room of this clinic",
                           {"room_id": ["unknown room in this clinic"]})
    return room_id


def book(appointment_id, client_id, clinician_id, start, duration_minutes, modality,
         session_type=DEFAULT_SESSION_TYPE, room_id=None, clinic=None, rooms=(),
         series_id=None, outside_working_hours=False):
    """AppointmentBooked; checks its own values (conflicts and hours are checked
    by `check_free` and the clinician's profile, which need the calendar)."""
    clinic = clinic or ClinicSettings(None)
    if not clinician_id:
        raise InvalidInput("clinician_id is required", {"clinician_id": ["must not be empty"]})
    _aware(start, "start")
    _minutes(duration_minutes, "duration_minutes", 1)
    _one_of(modality, MODALITIES, "modality")
    _one_of(session_type, SESSION_TYPES, "session_type")
    data = {
        "appointment_id": str(appointment_id), "client_id": str(client_id),
        "clinician_id": clinician_id, "start": iso(start),
        "duration_minutes": duration_minutes, "modality": modality,
        "session_type": session_type, "room_id": _room(modality, room_id, rooms),
        "video_link": clinic.video_link(appointment_id, clinician_id)
        if modality == "video" else None,
        "series_id": str(series_id) if series_id else None,
    }
    if outside_working_hours:
        data["outside_working_hours"] = True
    return [NewEvent("AppointmentBooked", data)]


def reschedule(appointment, start, duration_minutes=None, room_id=None, rooms=(),
               keep_room=True, outside_working_hours=False):
    """AppointmentRescheduled; the room stays unless `keep_room` is False."""
    appointment.require_open("reschedule")
    _aware(start, "start")
    duration = _minutes(duration_minutes if duration_minutes is not None
                        else appointment.duration_minutes, "duration_minutes", 1)
    room = appointment.room_id if keep_room else _room(appointment.modality, room_id, rooms)
    data = {"appointment_id": appointment.appointment_id, "client_id": appointment.client_id,
            "clinician_id": appointment.clinician_id, "previous_start": iso(appointment.start),
            "start": iso(start), "duration_minutes": duration, "room_id": room}
    if outside_working_hours:
        data["outside_working_hours"] = True
    return [NewEvent("AppointmentRescheduled", data)]


def notice_minutes(start, at):
    """Whole minutes of notice given at `at` for `start` (negative once it began)."""
    return math.floor((start - at).total_seconds() / 60)


def cancel(appointment, cancelled_by, reason, at, late_cancel_window_hours, event_id=None):
    """AppointmentCancelled. `late` when the client cancels inside the clinic's
    window: what a late-cancel fee and the attendance figures count. The notice
    is recorded whoever cancels."""
    appointment.require_open("cancel")
    _one_of(cancelled_by, CANCELLED_BY, "cancelled_by")
    notice = notice_minutes(appointment.start, at)
    late = cancelled_by == "client" and notice < late_cancel_window_hours * 60
    return [NewEvent("AppointmentCancelled", {
        "appointment_id": appointment.appointment_id, "client_id": appointment.client_id,
        "clinician_id": appointment.clinician_id, "start": iso(appointment.start),
        "cancelled_by": cancelled_by, "notice_minutes": notice, "late": late,
        "reason": reason, "cancelled_at": iso(at)}, id=event_id)]


def check_in(appointment, at):
    if appointment.status == "checked_in":
        raise Conflict(f"the client already checked in for appointment "
                       f"{appointment.appointment_id}")
    appointment.require_open("check in")
    return [NewEvent("ClientCheckedIn", {"appointment_id": appointment.appointment_id,
                                         "client_id": appointment.client_id,
                                         "checked_in_at": iso(at)})]


def _require_started(appointment, at, doing, tolerance=timedelta(0)):
    if at < appointment.start - tolerance:
        raise Conflict(f"cannot {doing}: appointment {appointment.appointment_id} has not "
                       f"started yet (starts {iso(appointment.start)})",
                       {"start": ["in the future"]})


def no_show(appointment, at):
    appointment.require_open("record a no-show")
    if appointment.status == "checked_in":
        raise Conflict(f"the client checked in for appointment {appointment.appointment_id}")
    _require_started(appointment, at, "record a no-show")
    return [NewEvent("AppointmentNoShow", {
        "appointment_id": appointment.appointment_id, "client_id": appointment.client_id,
        "clinician_id": appointment.clinician_id, "start": iso(appointment.start),
        "recorded_at": iso(at)})]


def hold(appointment, minutes, held_before, episode_id=None, session_type=None,
         place_of_service=None, audio_only=None, client_present=None, *, at):
    """The session took place, `minutes` face to face, as recorded `at`. `held_before`
    counts the client's sessions already held in this episode (`episode_id`, None
    when intake opened none), so this one is number held_before + 1."""
    appointment.require_open("hold the session")
    _require_started(appointment, at, "hold the session", HOLD_EARLY_TOLERANCE)
    _minutes(minutes, "minutes", 0)
    session_type = _one_of(session_type or appointment.session_type, SESSION_TYPES,
                           "session_type")
    place = _one_of(place_of_service or default_place_of_service(appointment.modality),
                    PLACES_OF_SERVICE, "place_of_service")
    if audio_only is None:
        audio_only = appointment.modality == "phone"
    if audio_only and appointment.modality == "in_person":
        raise InvalidInput("an in-person session is not audio-only",
                           {"audio_only": ["only for video or phone sessions"]})
    if client_present is not None and session_type != "family":
        raise InvalidInput("only a family session can be held without the client",
                           {"client_present": ["only for family sessions"]})
    if session_type == "family" and client_present is None:
        client_present = True
    return [NewEvent("SessionHeld", {
        "appointment_id": appointment.appointment_id, "client_id": appointment.client_id,
        "clinician_id": appointment.clinician_id, "start": iso(appointment.start),
        "minutes": minutes, "modality": appointment.modality, "session_type": session_type,
        "place_of_service": place, "audio_only": bool(audio_only),
        "episode_id": str(episode_id) if episode_id else None,
        "session_number": held_before + 1, "client_present": client_present})]
