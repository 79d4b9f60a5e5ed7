"""The alliance as FHIR R4 (issue 17 item 6): each AllianceRated as a
QuestionnaireResponse (the item scores, for the built-in measure's Questionnaire of
construct names) and an Observation of the total, with one component per subscale
(WAI-SR's goal, task, bond) and the concern threshold as its reference range.

Pure functions of intake's alliance views, beside adapters/fhir.py's assessments.
"""
from shared.fhir import SYSTEM, concept, fhir_id, reference, without_empty

# Praxis's own codes: the alliance measures have no LOINC total code.
ALLIANCE = concept(f"{SYSTEM}/observation-category", "therapeutic-alliance",
                   "Therapeutic alliance")
SURVEY = concept("http://terminology.hl7.org/CodeSystem/observation-category", "survey",
                 "Survey")


def _canonical(code, version):
    return f"{SYSTEM}/Questionnaire/{fhir_id(f'{code}-v{version}')}"


def alliance_questionnaire(measure):
    """A built-in alliance measure: its items are construct names (no licensed wording)."""
    return without_empty({
        "resourceType": "Questionnaire", "id": fhir_id(f"{measure['code']}-v{measure['version']}"),
        "url": _canonical(measure["code"], measure["version"]),
        "version": str(measure["version"]), "title": measure["name"], "status": "active",
        "item": [{"linkId": str(number), "text": text, "type": "integer", "required": True}
                 for number, text in enumerate(measure["items"], start=1)],
    })


def alliance_response(client_id, rating):
    """`rating`: an AllianceRated's data (session_id, instrument, instrument_version,
    item_scores, rated_by, rated_at)."""
    return without_empty({
        "resourceType": "QuestionnaireResponse",
        "id": fhir_id(f"alliance-{rating['session_id']}"),
        "questionnaire": _canonical(rating["instrument"], rating["instrument_version"]),
        "status": "completed", "subject": reference("Patient", client_id),
        "encounter": reference("Encounter", rating["session_id"]),
        "authored": rating["rated_at"],
        # The client rated their own session, or a clinician recorded it for them.
        "source": reference("Patient", client_id) if rating["rated_by"] == "client" else None,
        "item": [{"linkId": str(number), "answer": [{"valueInteger": score}]}
                 for number, score in enumerate(rating.get("item_scores") or (), start=1)],
    })


def alliance_observation(client_id, rating, concern_below):
    code = rating["instrument"]
    return without_empty({
        "resourceType": "Observation", "id": fhir_id(f"alliance-{rating['session_id']}-total"),
        "status": "final", "category": [SURVEY, ALLIANCE],
        "code": concept(f"{SYSTEM}/instrument", code, text=f"{code} total score"),
        "subject": reference("Patient", client_id),
        "encounter": reference("Encounter", rating["session_id"]),
        "effectiveDateTime": rating["rated_at"],
        "valueInteger": rating["total"],
        # At or above the threshold is no concern.
        "referenceRange": [{"low": {"value": concern_below},
                            "text": f"a total below {concern_below} is an alliance concern"}],
        "interpretation": [{"text": "alliance concern"}]
        if rating["total"] < concern_below else [],
        "component": [{
            "code": concept(f"{SYSTEM}/instrument", f"{code}/{name}", text=f"{name} subscale"),
            "valueQuantity": {"value": values["mean"], "unit": "item mean"}}
            for name, values in sorted((rating.get("subscales") or {}).items())],
        "derivedFrom": [reference("QuestionnaireResponse", f"alliance-{rating['session_id']}")],
    })


def alliance_resources(client_id, ratings, measures):
    """The Questionnaires of the measures used, then each rating's response and total.
    `measures` {code: measure data with concern_below}."""
    used = sorted({r["instrument"] for r in ratings if r["instrument"] in measures})
    resources = [alliance_questionnaire(measures[code]) for code in used]
    for rating in ratings:
        measure = measures.get(rating["instrument"])
        if "item_scores" in rating:
            resources.append(alliance_response(client_id, rating))
        if "total" in rating and measure is not None:
            resources.append(alliance_observation(client_id, rating, measure["concern_below"]))
    return resources
