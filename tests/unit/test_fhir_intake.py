"""Intake's FHIR adapter: every resource it makes is valid by the FHIR models
(fhir.resources, R4B), and carries what the record says."""
import pytest
from fhir.resources.R4B import get_fhir_model_class

from services.intake.adapters import fhir
from shared.fhir import searchset

CLIENT_ID = "6b1f0c8e-0f3a-4d5e-9a2b-1c3d4e5f6a7b"
PHQ9 = {"code": "PHQ-9", "version": 1, "name": "Patient Health Questionnaire (depression)",
        "items": [f"item {n}" for n in range(1, 10)]}
CUSTOM = {"code": "ORG_SCALE/2", "version": 3, "name": "The organisation's own scale",
          "items": ["first", "second"]}


def client(**overrides):
    return {
        "client_id": CLIENT_ID, "organisation_id": "org-1", "clinic_id": "clinic-1",
        "name": "Ada Lovelace", "preferred_name": "Ada", "pronouns": "she/her",
        "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org", "phone": None, "email_ok": True},
        "guardian": None, "primary_clinician_id": "dr-lee", "episode_status": "open",
        "episodes": [{"episode_id": "e-1", "opened_at": "2026-01-01T09:00:00Z",
                      "discharged_at": "2026-03-01T09:00:00Z", "status": "discharged"},
                     {"episode_id": "e-2", "opened_at": "2026-04-01T09:00:00Z",
                      "discharged_at": None, "status": "open"}],
        "consents": [{"kind": "treatment", "status": "given", "document_version": "v3",
                      "given_at": "2026-01-01T09:00:00Z"},
                     {"kind": "data_sharing", "status": "revoked", "document_version": "v1",
                      "given_at": "2026-01-01T09:00:00Z"}],
        "assessments": [
            {"assessment_id": "a-1", "instrument": "PHQ-9", "instrument_version": 1,
             "answers": [3, 2, 3, 1, 2, 3, 0, 1, 2], "total": 17,
             "severity": "moderately severe", "assessed_at": "2026-01-02T09:00:00Z"},
            {"assessment_id": "a-2", "instrument": "ORG_SCALE/2", "instrument_version": 3,
             "answers": [1, 0], "total": 1, "severity": "low",
             "assessed_at": "2026-01-03T09:00:00Z"}],
        **overrides}


def validated(resource):
    """The resource parsed by its FHIR model (raises on anything invalid)."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return model.model_dump(mode="json", exclude_none=True)


def test_everything_is_valid_fhir_and_refers_to_the_patient():
    resources = fhir.everything(client(), {("PHQ-9", 1): PHQ9, ("ORG_SCALE/2", 3): CUSTOM})
    kinds = [r["resourceType"] for r in resources]
    assert kinds == ["Patient", "EpisodeOfCare", "EpisodeOfCare", "Consent", "Consent",
                     "Questionnaire", "Questionnaire", "QuestionnaireResponse", "Observation",
                     "QuestionnaireResponse", "Observation"]
    for resource in resources:
        validated(resource)
        if resource["resourceType"] not in ("Patient", "Questionnaire"):
            refers = resource.get("patient") or resource.get("subject")
            assert refers == {"reference": f"Patient/{CLIENT_ID}"}
    validated(searchset(resources))


def test_the_patient_carries_names_birth_date_contact_and_clinician():
    patient = validated(fhir.patient(client()))
    assert patient["name"] == [{"use": "official", "text": "Ada Lovelace"},
                               {"use": "usual", "text": "Ada"}]
    assert patient["birthDate"] == "1990-01-02" and patient["active"] is True
    assert patient["telecom"] == [{"system": "email", "value": "ada@example.org",
                                   "use": "home"}]  # no phone: none given
    assert patient["generalPractitioner"] == [{"reference": "Practitioner/dr-lee"}]


def test_a_guardian_is_a_related_person():
    guardian = {"name": "Grace Lovelace", "relationship": "mother", "phone": "+1 555 0100",
                "email": None}
    resource = validated(fhir.related_person(client(guardian=guardian)))
    assert resource["relationship"][0]["coding"][0]["code"] == "GUARD"
    assert resource["relationship"][0]["text"] == "mother"
    assert resource["telecom"] == [{"system": "phone", "value": "+1 555 0100"}]
    assert fhir.related_person(client()) is None


def test_episodes_and_consents_keep_their_state():
    episodes = [validated(e) for e in fhir.episodes_of_care(client())]
    assert [(e["status"], e["period"].get("end")) for e in episodes] == [
        ("finished", "2026-03-01T09:00:00Z"), ("active", None)]
    given, revoked = [validated(c) for c in fhir.consents(client())]
    assert (given["status"], revoked["status"]) == ("active", "inactive")
    assert given["policy"] == [{"uri": "https://praxis.example/fhir/consent-documents/"
                                       "treatment/v3"}]


@pytest.mark.parametrize("code, loinc", [("PHQ-9", "44261-6"), ("GAD-7", "70274-6")])
def test_a_total_is_an_observation_coded_by_loinc_and_interpreted_by_its_band(code, loinc):
    assessment = {"assessment_id": "a-9", "instrument": code, "instrument_version": 1,
                  "answers": [1] * 7, "total": 7, "severity": "mild",
                  "assessed_at": "2026-01-02T09:00:00Z"}
    observation = validated(fhir.observation(CLIENT_ID, assessment))
    assert observation["code"]["coding"][0] == {
        "system": "http://loinc.org", "code": loinc,
        "display": fhir.LOINC_TOTALS[code][1]}
    assert (observation["valueInteger"], observation["interpretation"]) == (7, [{"text": "mild"}])
    assert observation["derivedFrom"] == [{"reference": "QuestionnaireResponse/a-9"}]
    response = validated(fhir.questionnaire_response(CLIENT_ID, assessment))
    assert [i["answer"][0]["valueInteger"] for i in response["item"]] == [1] * 7


def test_a_view_without_answers_exports_no_questionnaire_response():
    # A role that may not see answers gets a view without them: nothing to export.
    hidden = client(assessments=[{"assessment_id": "a-1", "instrument": "PHQ-9",
                                  "instrument_version": 1,
                                  "assessed_at": "2026-01-02T09:00:00Z"}])
    kinds = [r["resourceType"] for r in fhir.everything(hidden, {("PHQ-9", 1): PHQ9})]
    assert "QuestionnaireResponse" not in kinds and "Observation" not in kinds


def test_an_organisations_instrument_code_becomes_a_valid_id():
    assert fhir.questionnaire_id("ORG_SCALE/2", 3) == "ORG.5FSCALE.2F2-v3"
    validated(fhir.questionnaire(CUSTOM))
