"""Scheduling's records as FHIR R4 resources: Practitioner, Appointment, and an
Encounter for each session held (class AMB in person, VR for telehealth).

Pure functions of scheduling's views (an appointment, a clinician's profile)."""
from datetime import timedelta

from shared.fhir import SYSTEM, coding, concept, fhir_id, identifier, organisation, \
    reference, without_empty
from shared.timeutil import iso, parse_time

APPOINTMENT_STATUS = {"booked": "booked", "checked_in": "arrived", "held": "fulfilled",
                      "cancelled": "cancelled", "no_show": "noshow"}
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_CLASS = {"in_person": coding(ACT_CODE, "AMB", "ambulatory"),
                   "video": coding(ACT_CODE, "VR", "virtual"),
                   "phone": coding(ACT_CODE, "VR", "virtual")}
UCUM = "http://unitsofmeasure.org"


def practitioner(profile):
    return without_empty({
        "resourceType": "Practitioner", "id": fhir_id(profile["clinician_id"]),
        "identifier": [identifier("clinician", profile["clinician_id"])],
        "active": True, "name": [{"text": profile.get("name")}],
    })


def appointment(view):
    return without_empty({
        "resourceType": "Appointment", "id": fhir_id(view["appointment_id"]),
        "identifier": [identifier("appointment", view["appointment_id"])],
        "status": APPOINTMENT_STATUS[view["status"]],
        "serviceType": [concept(f"{SYSTEM}/session-type", view["session_type"])],
        "appointmentType": concept(f"{SYSTEM}/modality", view["modality"]),
        "cancelationReason": {"text": view.get("cancel_reason")}
        if view["status"] == "cancelled" else None,
        "start": view["start"], "end": view["end"],
        "minutesDuration": view["duration_minutes"],
        "participant": [
            {"actor": reference("Patient", view["client_id"]), "status": "accepted"},
            {"actor": reference("Practitioner", view["clinician_id"]), "status": "accepted"},
        ],
    })


def encounter(view):
    """The session held in an appointment (None for one not held)."""
    if view["status"] != "held":
        return None
    minutes = view.get("minutes") or view["duration_minutes"]
    start = parse_time(view["start"])
    return without_empty({
        "resourceType": "Encounter", "id": fhir_id(view["appointment_id"]),
        "status": "finished", "class": ENCOUNTER_CLASS[view["modality"]],
        "serviceType": concept(f"{SYSTEM}/session-type", view["session_type"]),
        "subject": reference("Patient", view["client_id"]),
        "participant": [{"individual": reference("Practitioner", view["clinician_id"])}],
        "appointment": [reference("Appointment", view["appointment_id"])],
        "period": {"start": view["start"], "end": iso(start + timedelta(minutes=minutes))},
        "length": {"value": minutes, "unit": "min", "system": UCUM, "code": "min"},
        "episodeOfCare": [reference("EpisodeOfCare", view["episode_id"])]
        if view.get("episode_id") else [],
        "serviceProvider": organisation(view["organisation_id"], view["clinic_id"]),
    })


def everything(appointments, profiles):
    """Scheduling's part of a client's `$everything`: their appointment views, and the
    profiles {clinician_id: profile} of the clinicians they saw."""
    resources = [practitioner(profiles[c]) for c in
                 sorted({a["clinician_id"] for a in appointments}) if c in profiles]
    for view in appointments:
        resources.append(appointment(view))
        held = encounter(view)
        if held:
            resources.append(held)
    return resources
