"""Clinics, clinicians and rooms: the settings every booking is checked against.

A clinic keeps its calendar in its own time zone; times are stored in UTC and
turned into the clinic's wall-clock time only to check working hours, lay out
a day or a week, or show them. A clinic never configured has the defaults
below (UTC, a 24 hour late-cancel window, no video link template).
"""
import functools
import string
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import InvalidInput

from .reminders import schedule

DEFAULT_TIME_ZONE = "UTC"
DEFAULT_LATE_CANCEL_WINDOW_HOURS = 24
# What a video link template may name, e.g. "https://meet.example.org/praxis-{appointment_id}".
VIDEO_LINK_FIELDS = ("appointment_id", "clinic_id", "clinician_id")
MINUTES_PER_DAY = 24 * 60


@functools.lru_cache(maxsize=1)
def _zone_names():
    return frozenset(available_timezones())


def zone_of(name):
    """The IANA zone; InvalidInput naming `time_zone` when there is none such."""
    try:
        if name not in _zone_names():  # "America" is a directory: IsADirectoryError
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(f"unknown time zone {name!r}",
                           {"time_zone": ["not an IANA time zone, e.g. Europe/London"]})


def clock_minutes(value, name):
    """'09:30' -> 570; '24:00' is the end of the day."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except (AttributeError, ValueError):
        raise InvalidInput(f"{name} must be HH:MM", {name: ["must be HH:MM"]})
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > MINUTES_PER_DAY:
        raise InvalidInput(f"{name} is not a time of day", {name: ["must be 00:00-24:00"]})
    return hours * 60 + minutes


@dataclass(frozen=True)
class ClinicSettings:
    clinic_id: str
    name: str = None
    time_zone: str = DEFAULT_TIME_ZONE
    late_cancel_window_hours: int = DEFAULT_LATE_CANCEL_WINDOW_HOURS
    video_link_template: str = None
    calendar_shows_client_names: bool = False
    reminder_hours_before: tuple = ()  # largest first; () sends none

    @property
    def zone(self):
        return ZoneInfo(self.time_zone)

    def local(self, moment):
        """An aware moment as the clinic's wall clock shows it."""
        return moment.astimezone(self.zone)

    def day_bounds(self, day, days=1):
        """[start, end) in UTC of `days` local days from `day`: 23 or 25 hours long
        on the days the clocks change."""
        zone = self.zone
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=days), time(0), tzinfo=zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def video_link(self, appointment_id, clinician_id):
        if not self.video_link_template:
            return None
        return self.video_link_template.format(
            appointment_id=appointment_id, clinic_id=self.clinic_id, clinician_id=clinician_id)


def configure_clinic(name, time_zone=DEFAULT_TIME_ZONE,
                     late_cancel_window_hours=DEFAULT_LATE_CANCEL_WINDOW_HOURS,
                     video_link_template=None, calendar_shows_client_names=False,
                     reminder_hours_before=()):
    if not name or not str(name).strip():
        raise InvalidInput("name is required", {"name": ["must not be empty"]})
    zone_of(time_zone)
    if isinstance(late_cancel_window_hours, bool) or not isinstance(late_cancel_window_hours, int) \
            or not 0 <= late_cancel_window_hours <= 24 * 14:
        raise InvalidInput("late_cancel_window_hours is out of range",
                           {"late_cancel_window_hours": ["must be an integer 0-336"]})
    if video_link_template is not None:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(video_link_template) if f}
        except ValueError as exc:
            raise InvalidInput("video_link_template is malformed",
                               {"video_link_template": [str(exc)]})
        unknown = names - set(VIDEO_LINK_FIELDS)
        if unknown or not video_link_template.startswith("https://"):
            raise InvalidInput("video_link_template is not usable", {"video_link_template": [
                "an https:// URL that may name only {" + "}, {".join(VIDEO_LINK_FIELDS) + "}"]})
    return [NewEvent("ClinicConfigured", {
        "name": name, "time_zone": time_zone,
        "late_cancel_window_hours": late_cancel_window_hours,
        "video_link_template": video_link_template,
        "calendar_shows_client_names": bool(calendar_shows_client_names),
        "reminder_hours_before": schedule(reminder_hours_before)})]


@dataclass
class Clinic(Aggregate):
    """A clinic's stream: its settings, rooms and reassessment policies (the clinic's
    and its clients'). Settings and policies are set whole (blind writes); what a
    command decides from is the rooms it has."""
    STREAM = "clinic-{}/{}"

    organisation_id: str
    clinic_id: str
    version: int = 0
    room_ids: set = field(default_factory=set)

    def _on_RoomAdded(self, event, data):
        self.room_ids.add(data["room_id"])


def add_room(clinic, room_id, name):
    if not room_id or not name:
        raise InvalidInput("a room needs an id and a name",
                           {"room_id" if not room_id else "name": ["must not be empty"]})
    if room_id in clinic.room_ids:
        raise InvalidInput(f"room {room_id} already exists", {"room_id": ["already exists"]})
    return [NewEvent("RoomAdded", {"room_id": room_id, "name": name})]


# -- clinicians --------------------------------------------------------------
@dataclass(frozen=True)
class WorkingHours:
    weekday: int        # 0 Monday .. 6 Sunday, in the clinic's time zone
    start: int          # minutes after local midnight
    end: int
    clinic_id: str = None  # None: at every clinic the clinician works at

    @classmethod
    def from_data(cls, data):
        return cls(data["weekday"], clock_minutes(data["start"], "start"),
                   clock_minutes(data["end"], "end"), data.get("clinic_id"))


@dataclass(frozen=True)
class ClinicianProfile:
    clinician_id: str
    name: str
    clinic_ids: tuple
    working_hours: tuple = field(default_factory=tuple)  # of WorkingHours

    def works_at(self, clinic_id):
        return clinic_id in self.clinic_ids

    def within_hours(self, clinic, start, end):
        """Does [start, end) fall inside one stretch of working hours, in the clinic's
        local time? An appointment running past local midnight never does."""
        local_start, local_end = clinic.local(start), clinic.local(end)
        first = local_start.hour * 60 + local_start.minute
        if local_end.date() == local_start.date():
            last = local_end.hour * 60 + local_end.minute
        elif local_end.date() == local_start.date() + timedelta(days=1) \
                and (local_end.hour, local_end.minute, local_end.second) == (0, 0, 0):
            last = MINUTES_PER_DAY
        else:
            return False
        return any(h.weekday == local_start.weekday() and h.start <= first and last <= h.end
                   and h.clinic_id in (None, clinic.clinic_id) for h in self.working_hours)


@dataclass
class Clinician(Aggregate):
    """A clinician's stream: the profile, set whole each time."""
    STREAM = "clinician-{}/{}"

    organisation_id: str
    clinician_id: str
    version: int = 0
    clinic_ids: tuple = ()  # of the profile set last (none before the first)

    def _on_ClinicianProfileSet(self, event, data):
        self.clinic_ids = tuple(data["clinic_ids"])


def set_clinician_profile(clinician_id, name, clinic_ids, working_hours):
    if not clinician_id:
        raise InvalidInput("clinician_id is required", {"clinician_id": ["must not be empty"]})
    if not name:
        raise InvalidInput("name is required", {"name": ["must not be empty"]})
    if not clinic_ids or len(set(clinic_ids)) != len(clinic_ids):
        raise InvalidInput("clinic_ids must name each clinic once",
                           {"clinic_ids": ["at least one clinic, each once"]})
    hours = []
    for index, entry in enumerate(working_hours):
        try:
            stretch = WorkingHours.from_data(entry)
        except InvalidInput as exc:
            raise InvalidInput(f"working_hours[{index}]: {exc.message}",
                               {"working_hours": {str(index): exc.fields}})
        if stretch.start >= stretch.end:
            raise InvalidInput(f"working_hours[{index}] ends before it starts",
                               {"working_hours": {str(index): {"end": ["must be after start"]}}})
        if stretch.clinic_id is not None and stretch.clinic_id not in clinic_ids:
            raise InvalidInput(f"working_hours[{index}] names a clinic not in clinic_ids",
                               {"working_hours": {str(index): {"clinic_id": [
                                   "not one of the clinician's clinics"]}}})
        hours.append(stretch)
    data_hours = []
    for entry in working_hours:
        item = {"weekday": entry["weekday"], "start": entry["start"], "end": entry["end"]}
        if entry.get("clinic_id") is not None:
            item["clinic_id"] = entry["clinic_id"]
        data_hours.append(item)
    return [NewEvent("ClinicianProfileSet", {
        "clinician_id": clinician_id, "name": name, "clinic_ids": list(clinic_ids),
        "working_hours": data_hours})]


def clinician_profile(data):
    """A ClinicianProfileSet payload -> ClinicianProfile."""
    return ClinicianProfile(data["clinician_id"], data["name"], tuple(data["clinic_ids"]),
                            tuple(WorkingHours.from_data(h) for h in data["working_hours"]))


def monday_of(day):
    """The first day of the week `day` is in: a calendar's week starts on Monday."""
    return day - timedelta(days=day.weekday())
