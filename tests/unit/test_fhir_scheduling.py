"""Scheduling's FHIR adapter: valid by the FHIR models, statuses and classes mapped."""
import pytest

from services.scheduling.adapters import fhir
from tests.unit.test_fhir_intake import validated

CLIENT_ID = "6b1f0c8e-0f3a-4d5e-9a2b-1c3d4e5f6a7b"


def view(status="held", modality="video", **overrides):
    return {"appointment_id": f"ap-{status}", "organisation_id": "org-1",
            "clinic_id": "clinic-1", "client_id": CLIENT_ID, "clinician_id": "dr-lee",
            "start": "2026-02-02T10:00:00Z", "end": "2026-02-02T10:50:00Z",
            "duration_minutes": 50, "modality": modality, "session_type": "individual",
            "status": status, "minutes": 45 if status == "held" else None,
            "episode_id": "e-1", "cancel_reason": None, **overrides}


@pytest.mark.parametrize("status, fhir_status", sorted(fhir.APPOINTMENT_STATUS.items()))
def test_each_appointment_status_maps_and_validates(status, fhir_status):
    resource = validated(fhir.appointment(view(status)))
    assert resource["status"] == fhir_status
    assert [p["actor"]["reference"] for p in resource["participant"]] == [
        f"Patient/{CLIENT_ID}", "Practitioner/dr-lee"]


def test_a_cancellation_keeps_its_reason():
    resource = validated(fhir.appointment(view("cancelled", cancel_reason="car broke down")))
    assert resource["cancelationReason"] == {"text": "car broke down"}


@pytest.mark.parametrize("modality, code", [("in_person", "AMB"), ("video", "VR"),
                                            ("phone", "VR")])
def test_a_session_held_is_an_encounter_of_its_class_and_minutes(modality, code):
    encounter = validated(fhir.encounter(view("held", modality)))
    assert encounter["class"]["code"] == code and encounter["status"] == "finished"
    assert encounter["period"] == {"start": "2026-02-02T10:00:00Z",
                                   "end": "2026-02-02T10:45:00Z"}
    assert encounter["length"]["value"] == 45
    assert encounter["appointment"] == [{"reference": "Appointment/ap-held"}]
    assert encounter["episodeOfCare"] == [{"reference": "EpisodeOfCare/e-1"}]
    assert fhir.encounter(view("booked")) is None


def test_everything_names_each_clinician_once():
    resources = fhir.everything([view("held"), view("booked")],
                                {"dr-lee": {"clinician_id": "dr-lee", "name": "Dr Lee"}})
    assert [r["resourceType"] for r in resources] == [
        "Practitioner", "Appointment", "Encounter", "Appointment"]
    for resource in resources:
        validated(resource)
