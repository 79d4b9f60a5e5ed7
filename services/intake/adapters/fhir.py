"""Intake's records as FHIR R4 resources: Patient, RelatedPerson (the guardian),
EpisodeOfCare, Consent, Questionnaire, QuestionnaireResponse and Observation.

Pure functions of intake's query views (queries/): what a role may not see is
gone from the views before it gets here, so the export follows the same policy.
"""
from shared.fhir import LOINC, SYSTEM, concept, fhir_id, identifier, organisation, reference, \
    without_empty

# The instruments' total scores as LOINC knows them; others get Praxis's own code.
LOINC_TOTALS = {
    "PHQ-9": ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    "GAD-7": ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"),
}
SURVEY = concept("http://terminology.hl7.org/CodeSystem/observation-category", "survey",
                 "Survey")
CONSENT_SCOPES = {"treatment": "treatment", "telehealth": "treatment",
                  "cancellation_policy": "treatment", "data_sharing": "patient-privacy"}
def questionnaire_id(code, version):
    return fhir_id(f"{code}-v{version}")


def patient(client):
    contact = client.get("contact") or {}
    telecom = [{"system": "email", "value": contact.get("email"), "use": "home"},
               {"system": "phone", "value": contact.get("phone"), "use": "mobile"}]
    names = [{"use": "official", "text": client["name"]}]
    if client.get("preferred_name"):
        names.append({"use": "usual", "text": client["preferred_name"]})
    return without_empty({
        "resourceType": "Patient", "id": fhir_id(client["client_id"]),
        "identifier": [identifier("client", client["client_id"])],
        "active": client.get("episode_status") != "discharged",
        "name": names, "telecom": [t for t in telecom if t["value"]],
        "birthDate": client.get("date_of_birth"),
        "managingOrganization": organisation(client["organisation_id"], client["clinic_id"]),
        "generalPractitioner": [reference("Practitioner", client["primary_clinician_id"])]
        if client.get("primary_clinician_id") else [],
    })


def related_person(client):
    """The guardian, if the client has one."""
    guardian = client.get("guardian")
    if not guardian:
        return None
    return without_empty({
        "resourceType": "RelatedPerson", "id": fhir_id(f"{client['client_id']}-guardian"),
        "patient": reference("Patient", client["client_id"]),
        "relationship": [concept("http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                 "GUARD", "guardian", text=guardian.get("relationship"))],
        "name": [{"text": guardian.get("name")}],
        "telecom": [{"system": system, "value": guardian[system]}
                    for system in ("phone", "email") if guardian.get(system)],
    })


def episodes_of_care(client):
    return [without_empty({
        "resourceType": "EpisodeOfCare", "id": fhir_id(episode["episode_id"]),
        "status": "active" if episode["status"] == "open" else "finished",
        "patient": reference("Patient", client["client_id"]),
        "managingOrganization": organisation(client["organisation_id"], client["clinic_id"]),
        "period": {"start": episode["opened_at"], "end": episode.get("discharged_at")},
    }) for episode in client.get("episodes", ())]


def consents(client):
    return [without_empty({
        "resourceType": "Consent", "id": fhir_id(f"{client['client_id']}-{consent['kind']}"),
        "status": "active" if consent["status"] == "given" else "inactive",
        "scope": concept("http://terminology.hl7.org/CodeSystem/consentscope",
                         CONSENT_SCOPES[consent["kind"]]),
        "category": [concept(LOINC, "59284-0", "Patient Consent",
                             text=consent["kind"].replace("_", " "))],
        "patient": reference("Patient", client["client_id"]),
        "dateTime": consent.get("given_at"),
        "policy": [{"uri": f"{SYSTEM}/consent-documents/{consent['kind']}/"
                           f"{consent['document_version']}"}],
    }) for consent in client.get("consents", ())]


def questionnaire(instrument):
    """An instrument version; its items' wording is whatever the organisation stored."""
    return without_empty({
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument["code"], instrument["version"]),
        "url": _canonical(instrument["code"], instrument["version"]),
        "version": str(instrument["version"]), "title": instrument["name"],
        "status": "active",
        "item": [{"linkId": str(number), "text": text, "type": "integer", "required": True}
                 for number, text in enumerate(instrument["items"], start=1)],
    })


def questionnaire_response(client_id, assessment):
    return without_empty({
        "resourceType": "QuestionnaireResponse", "id": fhir_id(assessment["assessment_id"]),
        "questionnaire": _canonical(assessment["instrument"], assessment["instrument_version"]),
        "status": "completed", "subject": reference("Patient", client_id),
        "authored": assessment["assessed_at"],
        "item": [{"linkId": str(number), "answer": [{"valueInteger": answer}]}
                 for number, answer in enumerate(assessment.get("answers") or (), start=1)],
    })


def observation(client_id, assessment):
    """The total score, interpreted by the instrument's band."""
    code = assessment["instrument"]
    known = LOINC_TOTALS.get(code)
    observed = concept(LOINC, *known) if known else \
        concept(f"{SYSTEM}/instrument", code, text=f"{code} total score")
    return without_empty({
        "resourceType": "Observation", "id": fhir_id(f"{assessment['assessment_id']}-total"),
        "status": "final", "category": [SURVEY], "code": observed,
        "subject": reference("Patient", client_id),
        "effectiveDateTime": assessment["assessed_at"],
        "valueInteger": assessment.get("total"),
        "interpretation": [{"text": assessment["severity"]}] if assessment.get("severity")
        else [],
        "derivedFrom": [reference("QuestionnaireResponse", assessment["assessment_id"])],
    })


def everything(client, instruments):
    """Intake's part of a client's `$everything`: `client` is the client view,
    `instruments` {(code, version): instrument view} of the instruments taken."""
    resources = [patient(client)]
    guardian = related_person(client)
    if guardian:
        resources.append(guardian)
    resources += episodes_of_care(client) + consents(client)
    taken = sorted({(a["instrument"], a["instrument_version"])
                    for a in client.get("assessments", ())})
    resources += [questionnaire(instruments[key]) for key in taken if key in instruments]
    for assessment in client.get("assessments", ()):
        if "answers" in assessment:
            resources.append(questionnaire_response(client["client_id"], assessment))
        if "total" in assessment:
            resources.append(observation(client["client_id"], assessment))
    return resources


def _canonical(code, version):
    return f"{SYSTEM}/Questionnaire/{questionnaire_id(code, version)}"

