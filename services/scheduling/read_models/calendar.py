"""Clinics, rooms, clinicians, appointments and series: the calendar."""
import json
from datetime import timedelta

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, Text, update

from shared.projection import upsert
from shared.timeutil import parse_date, parse_time

from ..domain import appointments as booking
from .base import metadata, projection

clinics = Table(
    "clinics", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("late_cancel_window_hours", Integer, nullable=False),
    Column("video_link_template", String(500)),
    Column("calendar_shows_client_names", Boolean, nullable=False),
    Column("reminder_hours_before", String(40)),  # JSON list, largest first
)

rooms = Table(
    "rooms", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("room_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
)

clinicians = Table(
    "clinicians", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinician_id", String(64), primary_key=True),
    Column("clinic_id", String(64), nullable=False),  # the profile event's clinic
    Column("name", String(200), nullable=False),
    Column("profile", Text, nullable=False),  # the ClinicianProfileSet payload, JSON
)

appointments = Table(
    "appointments", metadata,
    Column("appointment_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("client_id", String(36), nullable=False, index=True),
    Column("clinician_id", String(64), nullable=False, index=True),
    Column("start", DateTime(timezone=True), nullable=False, index=True),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("modality", String(20), nullable=False),
    Column("session_type", String(20), nullable=False),
    Column("room_id", String(64)),
    Column("video_link", String(500)),
    Column("series_id", String(36), index=True),
    # booked | checked_in | held | cancelled | no_show
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),  # the appointment stream's version
    Column("outside_working_hours", Boolean, nullable=False),
    Column("checked_in_at", DateTime(timezone=True)),
    Column("minutes", Integer),
    Column("session_number", Integer),
    Column("episode_id", String(36)),
    Column("place_of_service", String(20)),
    Column("audio_only", Boolean),
    Column("held_at", DateTime(timezone=True)),    # the SessionHeld envelope time
    Column("cancelled_by", String(20)),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("notice_minutes", Integer),
    Column("late", Boolean),
    Column("cancel_reason", String(500)),
    Column("no_show_at", DateTime(timezone=True)),
)

series = Table(
    "series", metadata,
    Column("series_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("client_id", String(36), nullable=False, index=True),
    Column("clinician_id", String(64), nullable=False),
    Column("frequency", String(20), nullable=False),
    Column("count", Integer),
    Column("until", Date),
    Column("time_zone", String(64), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("modality", String(20), nullable=False),
    Column("session_type", String(20), nullable=False),
    Column("room_id", String(64)),
    Column("ended_from", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", String(500)),
)


# -- clinics, rooms, clinicians ------------------------------------------------
@projection.on("ClinicConfigured")
def clinic_configured(conn, event):
    data = event.data
    upsert(conn, clinics, {"organisation_id": event.organisationid,
                           "clinic_id": event.clinicid}, {
        "name": data["name"], "time_zone": data["time_zone"],
        "late_cancel_window_hours": data["late_cancel_window_hours"],
        "video_link_template": data["video_link_template"],
        "calendar_shows_client_names": data["calendar_shows_client_names"],
        "reminder_hours_before": json.dumps(data.get("reminder_hours_before") or [])})


@projection.on("RoomAdded")
def room_added(conn, event):
    upsert(conn, rooms, {"organisation_id": event.organisationid, "clinic_id": event.clinicid,
                         "room_id": event.data["room_id"]}, {"name": event.data["name"]})


@projection.on("ClinicianProfileSet")
def clinician_profile_set(conn, event):
    data = event.data
    upsert(conn, clinicians, {"organisation_id": event.organisationid,
                              "clinician_id": data["clinician_id"]}, {
        "clinic_id": event.clinicid, "name": data["name"],
        "profile": json.dumps(data, sort_keys=True)})


# -- appointments --------------------------------------------------------------
def _set(conn, event, **values):
    conn.execute(update(appointments)
                 .where(appointments.c.appointment_id == event.data["appointment_id"])
                 .values(version=event.sequence, **values))


@projection.on("AppointmentBooked")
def appointment_booked(conn, event):
    data = event.data
    start = parse_time(data["start"])
    upsert(conn, appointments, {"appointment_id": data["appointment_id"]}, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "client_id": data["client_id"], "clinician_id": data["clinician_id"],
        "start": start, "end": start + timedelta(minutes=data["duration_minutes"]),
        "duration_minutes": data["duration_minutes"], "modality": data["modality"],
        "session_type": data.get("session_type") or booking.DEFAULT_SESSION_TYPE,
        "room_id": data.get("room_id"), "video_link": data.get("video_link"),
        "series_id": data.get("series_id"), "status": "booked", "version": event.sequence,
        "outside_working_hours": bool(data.get("outside_working_hours"))})


@projection.on("AppointmentRescheduled")
def appointment_rescheduled(conn, event):
    data = event.data
    start = parse_time(data["start"])
    values = {"start": start, "end": start + timedelta(minutes=data["duration_minutes"]),
              "duration_minutes": data["duration_minutes"], "room_id": data.get("room_id")}
    if data.get("outside_working_hours"):
        values["outside_working_hours"] = True
    _set(conn, event, **values)


@projection.on("ClientCheckedIn")
def client_checked_in(conn, event):
    _set(conn, event, status="checked_in",
         checked_in_at=parse_time(event.data["checked_in_at"]))


@projection.on("SessionHeld")
def session_held(conn, event):
    data = event.data
    _set(conn, event, status="held", minutes=data["minutes"],
         session_number=data["session_number"], episode_id=data.get("episode_id"),
         session_type=data.get("session_type") or booking.DEFAULT_SESSION_TYPE,
         place_of_service=data.get("place_of_service"),
         audio_only=data.get("audio_only"), held_at=parse_time(event.time))


@projection.on("AppointmentCancelled")
def appointment_cancelled(conn, event):
    data = event.data
    _set(conn, event, status="cancelled", cancelled_by=data["cancelled_by"],
         cancelled_at=parse_time(data["cancelled_at"]), notice_minutes=data["notice_minutes"],
         late=data["late"], cancel_reason=data["reason"])


@projection.on("AppointmentNoShow")
def appointment_no_show(conn, event):
    _set(conn, event, status="no_show", no_show_at=parse_time(event.data["recorded_at"]))


@projection.on("AppointmentSeriesBooked")
def series_booked(conn, event):
    data = event.data
    upsert(conn, series, {"series_id": data["series_id"]}, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "client_id": data["client_id"], "clinician_id": data["clinician_id"],
        "frequency": data["frequency"], "count": data["count"],
        "until": parse_date(data["until"]) if data["until"] else None,
        "time_zone": data["time_zone"], "duration_minutes": data["duration_minutes"],
        "modality": data["modality"], "session_type": data["session_type"],
        "room_id": data["room_id"]})


@projection.on("AppointmentSeriesEnded")
def series_ended(conn, event):
    data = event.data
    conn.execute(update(series).where(series.c.series_id == data["series_id"]).values(
        ended_from=parse_time(data["effective_from"]),
        ended_at=parse_time(data["ended_at"]), end_reason=data["reason"]))
