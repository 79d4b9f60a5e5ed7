"""The .ics a clinician subscribes to: what a person reads in each event."""
import uuid
from datetime import datetime, timezone

import pytest
from icalendar import Calendar

from services.scheduling.adapters.icalendar import clinician_calendar
from services.scheduling.domain import appointments as booking
from services.scheduling.domain.calendar import ClinicSettings

LONDON = ClinicSettings("clinic-1", "Leeds", "Europe/London")
START = datetime(2026, 12, 14, 10, 0, tzinfo=timezone.utc)


def row(modality, **overrides):
    return {"appointment_id": str(uuid.uuid4()), "clinic_id": "clinic-1",
            "client_id": str(uuid.uuid4()), "start": START, "duration_minutes": 50,
            "session_type": "individual", "modality": modality, "room_id": None,
            "video_link": None, "status": "booked", "version": 1, **overrides}


@pytest.mark.parametrize("modality, words", [
    ("in_person", "In person"), ("video", "Telehealth (video)"),
    ("phone", "Telehealth (phone)")])
def test_the_description_says_the_modality_in_words(modality, words):
    ics = clinician_calendar("dr-1", "Dr One", [row(modality)], {"clinic-1": LONDON}, {}, {})
    (event,) = Calendar.from_ical(ics).walk("VEVENT")
    description = str(event["description"])
    assert description.startswith(f"Individual session: {words}, 10:00 Europe/London")
    assert modality not in description.replace(words, "")
    assert words == booking.MODALITY_WORDS[modality]


def test_every_modality_has_its_words():
    assert set(booking.MODALITY_WORDS) == set(booking.MODALITIES)
    assert all(booking.MODALITY_WORDS.values())
