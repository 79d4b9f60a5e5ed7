"""How scheduling's records look in JSON: times in UTC ('Z') and, next to them,
the clinic's wall-clock time with its offset."""
from shared.timeutil import iso

from ..domain import feeds
from ..read_models import aware


def _time(value):
    return iso(value) if value is not None else None


def _local(settings, value):
    return settings.local(aware(value)).isoformat() if value is not None else None


def appointment(record, settings, client_name=None):
    view = {
        "appointment_id": record["appointment_id"],
        "organisation_id": record["organisation_id"], "clinic_id": record["clinic_id"],
        "client_id": record["client_id"], "clinician_id": record["clinician_id"],
        "start": iso(record["start"]), "end": iso(record["end"]),
        "local_start": _local(settings, record["start"]),
        "local_end": _local(settings, record["end"]), "time_zone": settings.time_zone,
        "duration_minutes": record["duration_minutes"], "modality": record["modality"],
        "session_type": record["session_type"], "room_id": record["room_id"],
        "video_link": record["video_link"], "series_id": record["series_id"],
        "status": record["status"],
        "outside_working_hours": bool(record["outside_working_hours"]),
        "checked_in_at": _time(record["checked_in_at"]),
        "minutes": record["minutes"], "session_number": record["session_number"],
        "episode_id": record["episode_id"], "place_of_service": record["place_of_service"],
        "audio_only": record["audio_only"], "held_at": _time(record["held_at"]),
        "cancelled_by": record["cancelled_by"], "cancelled_at": _time(record["cancelled_at"]),
        "notice_minutes": record["notice_minutes"], "late": record["late"],
        "cancel_reason": record["cancel_reason"], "no_show_at": _time(record["no_show_at"]),
    }
    if client_name is not None:
        view["client_name"] = client_name
    return view


# What a clinician outside a client's care team sees of that client's appointment in a
# calendar or a room's day: that the time and the room are taken, not by whom or why.
BUSY_FIELDS = ("appointment_id", "organisation_id", "clinic_id", "clinician_id", "start",
               "end", "local_start", "local_end", "time_zone", "duration_minutes",
               "modality", "room_id", "status", "outside_working_hours")


def busy(view):
    return {**{name: view[name] for name in BUSY_FIELDS}, "client_id": None,
            "busy_only": True}


def for_reader(view, client_ids):
    """The view itself, or only its busy slot when the reader (a clinician whose care
    team is `client_ids`; None for other roles) does not care for its client."""
    return view if client_ids is None or view["client_id"] in client_ids else busy(view)


def clinic(organisation_id, clinic_id, settings, configured, rooms):
    return {"organisation_id": organisation_id, "clinic_id": clinic_id,
            "configured": configured, "name": settings.name, "time_zone": settings.time_zone,
            "late_cancel_window_hours": settings.late_cancel_window_hours,
            "video_link_template": settings.video_link_template,
            "calendar_shows_client_names": settings.calendar_shows_client_names,
            "reminder_hours_before": list(settings.reminder_hours_before),
            "rooms": [{"room_id": r["room_id"], "name": r["name"]} for r in rooms]}


def policy(policy_, source):
    return {"every_sessions": policy_.every_sessions, "every_days": policy_.every_days,
            "source": source}


def series(record, occurrences, settings):
    return {"series_id": record["series_id"], "organisation_id": record["organisation_id"],
            "clinic_id": record["clinic_id"], "client_id": record["client_id"],
            "clinician_id": record["clinician_id"], "frequency": record["frequency"],
            "count": record["count"],
            "until": record["until"].isoformat() if record["until"] else None,
            "time_zone": record["time_zone"], "duration_minutes": record["duration_minutes"],
            "modality": record["modality"], "session_type": record["session_type"],
            "room_id": record["room_id"], "ended_from": _time(record["ended_from"]),
            "ended_at": _time(record["ended_at"]), "end_reason": record["end_reason"],
            "appointments": [appointment(o, settings) for o in occurrences]}


def rate(count, total):
    return round(count / total, 4) if total else None


def attendance(counts):
    """counts: held, cancelled, late_cancelled, no_show, open, cancelled_by -> figures."""
    settled = counts["held"] + counts["cancelled"] + counts["late_cancelled"] + counts["no_show"]
    return {**counts, "settled": settled,
            "rates": {k: rate(counts[k], settled)
                      for k in ("held", "cancelled", "late_cancelled", "no_show")}}


def calendar_feed(record, now):
    """A feed as its owner sees it: never its secret, nor the secret's digest."""
    return {"feed_id": record["feed_id"], "clinician_id": record["clinician_id"],
            "organisation_id": record["organisation_id"], "clinic_ids": record["clinic_ids"],
            "issued_by": record["issued_by"], "issued_at": _time(record["issued_at"]),
            "expires_at": _time(record["expires_at"]),
            "revoked_by": record["revoked_by"], "revoked_at": _time(record["revoked_at"]),
            "status": feeds.status(aware(record["expires_at"]), aware(record["revoked_at"]),
                                   now)}
