"""Per-clinic practice gauges: a clinic with nothing wrong shows 0, not no data."""
import uuid
from datetime import timedelta

import pytest

from services.notes.service import Service as Notes
from shared.timeutil import iso, utc_now
from tests.support import RunningService, make_event, publish_event, wait_until

pytestmark = pytest.mark.integration


def notes_overdue(running):
    from prometheus_client.parser import text_string_to_metric_families

    values = {}
    for family in text_string_to_metric_families(running.api.get("/metrics", bearer="").text):
        for sample in family.samples:
            if sample.name == "praxis_notes_overdue":
                values[(sample.labels["organisation"], sample.labels["clinic"])] = sample.value
    return values


def session_held(clinic, hours_ago):
    appointment_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    return make_event("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": client_id,
        "clinician_id": "clinician-1", "start": iso(utc_now() - timedelta(hours=hours_ago)),
        "minutes": 50, "modality": "in_person", "session_type": "individual",
        "place_of_service": "office", "audio_only": False, "episode_id": None,
        "session_number": 1}, f"appointment-{appointment_id}", clinic=clinic)


def test_notes_overdue_per_clinic_with_zero_for_healthy_clinics(database_url, amqp_uri):
    with RunningService(Notes, database_url, amqp_uri) as notes:
        publish_event(amqp_uri, session_held("clinic-late", hours_ago=100))  # past 72 h
        publish_event(amqp_uri, session_held("clinic-fine", hours_ago=1))
        wait_until(lambda: len(notes_overdue(notes)) == 2, message="both clinics known")
        assert notes_overdue(notes) == {("org-1", "clinic-late"): 1.0,
                                        ("org-1", "clinic-fine"): 0.0}
