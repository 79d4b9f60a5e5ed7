"""AllianceRated as FHIR: a QuestionnaireResponse of the item scores and an Observation
of the total with its subscales, valid by the FHIR models (fhir.resources, R4B)."""
from services.intake.adapters.fhir_alliance import alliance_resources
from services.intake.domain.alliance import SRS, WAI_SR
from shared.fhir import searchset
from tests.unit.test_fhir_intake import CLIENT_ID, validated

MEASURES = {m.code: m.to_data() for m in (SRS, WAI_SR)}
SRS_RATING = {"session_id": "5e1f0c8e-0f3a-4d5e-9a2b-1c3d4e5f6a70", "instrument": "SRS",
              "instrument_version": 1, "item_scores": [9, 9, 9, 8], "total": 35,
              "subscales": {}, "rated_by": "client", "rated_at": "2026-01-12T16:00:00Z"}
WAI_RATING = {"session_id": "5e1f0c8e-0f3a-4d5e-9a2b-1c3d4e5f6a71", "instrument": "WAI-SR",
              "instrument_version": 1, "item_scores": [4] * 12, "total": 48,
              "subscales": {"goal": {"total": 16, "mean": 4.0},
                            "task": {"total": 16, "mean": 4.0},
                            "bond": {"total": 16, "mean": 4.0}},
              "rated_by": "clinician", "rated_at": "2026-01-19T16:00:00Z"}


def test_alliance_ratings_are_valid_fhir_with_scores_subscales_and_the_threshold():
    resources = alliance_resources(CLIENT_ID, [SRS_RATING, WAI_RATING], MEASURES)
    assert [r["resourceType"] for r in resources] == [
        "Questionnaire", "Questionnaire", "QuestionnaireResponse", "Observation",
        "QuestionnaireResponse", "Observation"]
    for resource in resources:
        validated(resource)
    validated(searchset(resources))
    srs_response, srs_total = resources[2], resources[3]
    assert [i["answer"][0]["valueInteger"] for i in srs_response["item"]] == [9, 9, 9, 8]
    assert srs_response["source"] == {"reference": f"Patient/{CLIENT_ID}"}
    assert srs_total["valueInteger"] == 35
    assert srs_total["interpretation"] == [{"text": "alliance concern"}]
    assert srs_total["referenceRange"][0]["low"]["value"] == 36
    wai_total = resources[5]
    assert "interpretation" not in wai_total  # 48 is no concern
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"])
            for c in wai_total["component"]] == [
        ("WAI-SR/bond", 4.0), ("WAI-SR/goal", 4.0), ("WAI-SR/task", 4.0)]
    assert "source" not in resources[4]  # a clinician recorded it
    # The questionnaire carries construct names only.
    assert [i["text"] for i in resources[0]["item"]] == list(SRS.items)


def test_without_item_scores_only_the_total_is_exported():
    rating = {k: v for k, v in SRS_RATING.items() if k != "item_scores"}
    kinds = [r["resourceType"] for r in alliance_resources(CLIENT_ID, [rating], MEASURES)]
    assert kinds == ["Questionnaire", "Observation"]
