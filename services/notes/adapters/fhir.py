"""Notes' records as FHIR R4 resources: Condition (ICD-10 diagnoses), Goal (its
lifecycle and achievement), CarePlan, and a DocumentReference for each signed
progress note. Psychotherapy notes and journal entries are never exported: no
function here takes them.

Pure functions of notes' views (the plan, a progress note with its addenda)."""
import base64

from shared.fhir import SYSTEM, concept, fhir_id, reference, without_empty

ICD10 = "http://hl7.org/fhir/sid/icd-10"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
# Praxis's goal statuses as FHIR Goal.lifecycleStatus
LIFECYCLE = {"proposed": "proposed", "active": "active", "on_hold": "on-hold",
             "completed": "completed", "cancelled": "cancelled"}
# A GAS level attained, as Goal.achievementStatus
ACHIEVEMENT = {-2: ("worsening", "Worsening"), -1: ("no-progress", "No Progress"),
               0: ("achieved", "Achieved"), 1: ("achieved", "Achieved"),
               2: ("achieved", "Achieved")}


def conditions(client_id, plan):
    diagnoses = plan.get("diagnoses") or {}
    return [without_empty({
        "resourceType": "Condition", "id": fhir_id(f"{client_id}-{code}"),
        "clinicalStatus": concept(CONDITION_CLINICAL, "active"),
        "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category",
                             "encounter-diagnosis")],
        "code": concept(ICD10, code),
        "subject": reference("Patient", client_id),
        "recordedDate": diagnoses.get("set_at"),
        "note": [{"text": "primary diagnosis"}] if rank == 0 else [],
    }) for rank, code in enumerate(diagnoses.get("codes") or ())]


def goal(client_id, view):
    level = view.get("latest_level")
    achieved = ACHIEVEMENT.get(level) if level is not None else None
    return without_empty({
        "resourceType": "Goal", "id": fhir_id(view["goal_id"]),
        "lifecycleStatus": LIFECYCLE[view["status"]],
        "achievementStatus": concept(GOAL_ACHIEVEMENT, *achieved) if achieved else None,
        "description": {"text": view["description"]},
        "subject": reference("Patient", client_id),
        "startDate": (view.get("set_at") or "")[:10],
        "target": [{"dueDate": view["target_date"],
                    "measure": concept(f"{SYSTEM}/instrument", view["instrument"])
                    if view.get("instrument") else None,
                    "detailInteger": view.get("target_score")}],
    })


def care_plan(client_id, plan):
    goals = plan.get("goals") or ()
    return without_empty({
        "resourceType": "CarePlan", "id": fhir_id(f"{client_id}-plan"),
        "status": "active" if any(g["status"] == "active" for g in goals) else "completed",
        "intent": "plan", "subject": reference("Patient", client_id),
        "description": f"stage: {plan['stage']['stage']}" if plan.get("stage") else None,
        "addresses": [reference("Condition", f"{client_id}-{code}")
                      for code in (plan.get("diagnoses") or {}).get("codes") or ()],
        "goal": [reference("Goal", g["goal_id"]) for g in goals],
    })


def document_reference(note):
    """A signed progress note (None for one not signed): its sections and addenda as
    text/plain, the author and the session."""
    if note.get("signed_at") is None:
        return None
    lines = [f"{name}: {text}" for name, text in (note.get("sections") or {}).items()]
    lines += [f"addendum ({a['signed_by']}, {a['signed_at']}): {a['text']}"
              for a in note.get("addenda") or ()]
    return without_empty({
        "resourceType": "DocumentReference", "id": fhir_id(note["note_id"]),
        "status": "current", "docStatus": "final",
        "type": concept("http://loinc.org", "11506-3", "Progress note"),
        "subject": reference("Patient", note["client_id"]),
        "date": note["signed_at"],
        "author": [reference("Practitioner", note["signed_by"])],
        "authenticator": reference("Practitioner", note.get("cosigned_by") or note["signed_by"]),
        "description": f"{note.get('format')} progress note",
        "content": [{"attachment": {
            "contentType": "text/plain; charset=utf-8",
            "data": base64.b64encode("\n".join(lines).encode()).decode(),
            "title": f"Progress note of {note['session_start'][:10]}"}}],
        "context": {"encounter": [reference("Encounter", note["appointment_id"])]},
    })


def everything(client_id, plan, notes):
    """Notes' part of a client's `$everything`: the plan view and the progress note
    views (with their sections); unsigned notes are left out."""
    resources = conditions(client_id, plan)
    resources += [goal(client_id, g) for g in plan.get("goals") or ()]
    resources.append(care_plan(client_id, plan))
    resources += [d for d in map(document_reference, notes) if d is not None]
    return resources
