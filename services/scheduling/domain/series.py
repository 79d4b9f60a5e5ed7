"""Recurring series: the same slot every week or every other week, until a date
or for a number of sessions.

A series repeats on the clinic's wall clock: a Tuesday 10:00 series stays at
10:00 local time across a daylight-saving change, so its UTC time moves by an
hour. Every occurrence is booked up front as its own appointment (carrying the
series id), so one can be moved or cancelled without touching the others.
A local time the clocks skip (the spring-forward gap) is read with the offset
before the change, i.e. moved forward by the gap, as RFC 5545 does; a time that
happens twice (autumn) is the first of the two.
"""
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput
from shared.timeutil import iso, parse_time

FREQUENCIES = {"weekly": 1, "every_other_week": 2}  # weeks between occurrences
MAX_OCCURRENCES = 104

# Fixed forever: occurrence ids derive from it.
OCCURRENCE_NAMESPACE = uuid.UUID("0f3e6a52-6c1e-4a0b-9a55-2f7c8c1d4e90")


def occurrence_id(series_id, index):
    """The appointment id of the series' occurrence number `index` (0-based)."""
    return str(uuid.uuid5(OCCURRENCE_NAMESPACE, f"{series_id}:{index}"))


def wall_clock_to_utc(wall, zone):
    """A naive local time in `zone` -> an aware UTC time (gap: forward; overlap: first)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)


def occurrences(first_start, zone, frequency, count=None, until=None):
    """UTC starts of a series whose first occurrence is `first_start` (aware)."""
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"unknown frequency {frequency!r}",
                           {"frequency": [f"one of {', '.join(FREQUENCIES)}"]})
    if (count is None) == (until is None):
        raise InvalidInput("a series ends after a count or on a date, one of the two",
                           {"count": ["give count or until, not both"],
                            "until": ["give count or until, not both"]})
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or not 1 <= count <= MAX_OCCURRENCES):
        raise InvalidInput("count is out of range",
                           {"count": [f"must be an integer 1-{MAX_OCCURRENCES}"]})
    if not isinstance(first_start, datetime) or first_start.tzinfo is None:
        raise InvalidInput("start must be a date-time with a time zone",
                           {"start": ["must be a date-time with a time zone"]})
    wall = first_start.astimezone(zone).replace(tzinfo=None, fold=0)
    if until is not None:
        if not isinstance(until, date) or until < wall.date():
            raise InvalidInput("until is before the first occurrence",
                               {"until": ["must be on or after the first occurrence's date"]})
    step = timedelta(weeks=FREQUENCIES[frequency])
    starts = []
    while True:
        local = wall + step * len(starts)
        if count is not None and len(starts) == count:
            break
        if until is not None and local.date() > until:
            break
        if len(starts) == MAX_OCCURRENCES:
            raise InvalidInput("the series is too long",
                               {"until": [f"at most {MAX_OCCURRENCES} occurrences"]})
        starts.append(wall_clock_to_utc(local, zone))
    return starts


def book_series(series_id, client_id, clinician_id, starts, duration_minutes, modality,
                session_type, room_id, frequency, count, until, time_zone):
    """AppointmentSeriesBooked (each occurrence's AppointmentBooked comes from
    appointments.book)."""
    return [NewEvent("AppointmentSeriesBooked", {
        "series_id": str(series_id), "client_id": str(client_id),
        "clinician_id": clinician_id, "frequency": frequency, "count": count,
        "until": until.isoformat() if until else None, "time_zone": time_zone,
        "duration_minutes": duration_minutes, "modality": modality,
        "session_type": session_type, "room_id": room_id,
        "appointment_ids": [occurrence_id(series_id, i) for i in range(len(starts))],
        "starts": [iso(s) for s in starts]})]


@dataclass
class Series(Aggregate):
    STREAM = "series-{}"

    series_id: str
    version: int = 0
    client_id: str = None
    clinician_id: str = None
    appointment_ids: tuple = ()
    ended_from: datetime = None

    def _on_AppointmentSeriesBooked(self, event, data):
        self.client_id = data["client_id"]
        self.clinician_id = data["clinician_id"]
        self.appointment_ids = tuple(data["appointment_ids"])

    def _on_AppointmentSeriesEnded(self, event, data):
        self.ended_from = parse_time(data["effective_from"])


def end_series(series, effective_from, reason, at):
    """AppointmentSeriesEnded: no occurrence from `effective_from` on takes place
    (the application cancels the open ones)."""
    if not series.appointment_ids:
        raise Conflict(f"series {series.series_id} was never booked")
    if series.ended_from is not None:
        raise Conflict(f"series {series.series_id} already ended")
    if not isinstance(effective_from, datetime) or effective_from.tzinfo is None:
        raise InvalidInput("from must be a date-time with a time zone",
                           {"from": ["must be a date-time with a time zone"]})
    return [NewEvent("AppointmentSeriesEnded", {
        "series_id": series.series_id, "client_id": series.client_id,
        "clinician_id": series.clinician_id, "effective_from": iso(effective_from),
        "reason": reason, "ended_at": iso(at)})]
