"""A clinician's appointments as an iCalendar (RFC 5545) feed, made with `icalendar`.

Times are written in UTC (calendar apps show them in the viewer's zone); the
clinic's zone is named in the description. Client names appear only when the
clinic allows it (ClinicConfigured.calendar_shows_client_names); otherwise an
event says "Session" and nothing that identifies the client. Cancelled
appointments stay in the feed with STATUS:CANCELLED so subscribed calendars
drop them; SEQUENCE is the appointment's version, so a move updates the event.
"""
from datetime import timedelta

from icalendar import Calendar, Event

from shared.timeutil import utc_now

from ..domain.appointments import MODALITY_WORDS
from ..read_models import aware


def clinician_calendar(clinician_id, clinician_name, rows, clinic_settings, client_names,
                       room_names):
    """rows: appointment rows; clinic_settings: clinic id -> ClinicSettings;
    client_names: client id -> name (only for clinics that allow names);
    room_names: (clinic id, room id) -> name."""
    calendar = Calendar()
    calendar.add("prodid", "-//Praxis//Scheduling//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Praxis: {clinician_name or clinician_id}")
    stamp = utc_now().replace(microsecond=0)
    for row in rows:
        settings = clinic_settings[row["clinic_id"]]
        start = aware(row["start"])
        event = Event()
        event.add("uid", f"{row['appointment_id']}@praxis")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=row["duration_minutes"]))
        session = row["session_type"].replace("_", " ")
        name = client_names.get(row["client_id"]) if settings.calendar_shows_client_names \
            else None
        event.add("summary", f"{session.capitalize()} session" + (f" with {name}" if name
                                                                     else ""))
        if row["modality"] == "in_person":
            room = room_names.get((row["clinic_id"], row["room_id"]))
            event.add("location", f"{settings.name or row['clinic_id']}"
                      + (f", {room}" if room else ""))
        else:
            event.add("location", MODALITY_WORDS[row["modality"]])
        if row["video_link"]:
            event.add("url", row["video_link"])
        local = settings.local(start)
        event.add("description", f"{session.capitalize()} session: "
                                 f"{MODALITY_WORDS[row['modality']]}, "
                                 f"{local.strftime('%H:%M')} {settings.time_zone}; "
                                 f"appointment {row['appointment_id']}")
        event.add("status", "CANCELLED" if row["status"] == "cancelled" else "CONFIRMED")
        event.add("sequence", row["version"])
        event.add("transp", "TRANSPARENT" if row["status"] == "cancelled" else "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
