"""Notes' FHIR adapter: valid by the FHIR models; goals' lifecycle and achievement;
only signed progress notes become documents."""
import base64

import pytest

from services.notes.adapters import fhir
from shared.fhir import fhir_id
from tests.unit.test_fhir_intake import validated

CLIENT_ID = "6b1f0c8e-0f3a-4d5e-9a2b-1c3d4e5f6a7b"
GOAL = {"goal_id": "g-1", "description": "Sleep through the night", "target_date": "2026-06-01",
        "instrument": "PHQ-9", "target_score": 4, "status": "active", "latest_level": 1,
        "set_at": "2026-01-05T09:00:00Z"}
PLAN = {"diagnoses": {"codes": ["F32.1", "F41.1"], "set_at": "2026-01-05T09:00:00Z"},
        "stage": {"stage": "change"}, "goals": [GOAL]}
NOTE = {"note_id": "n-1", "appointment_id": "ap-1", "client_id": CLIENT_ID,
        "session_start": "2026-02-02T10:00:00Z", "format": "SOAP", "signed_by": "dr-lee",
        "signed_at": "2026-02-02T12:00:00Z", "cosigned_by": None,
        "sections": {"subjective": "Slept five nights"},
        "addenda": [{"text": "Phoned next day", "signed_by": "dr-lee",
                     "signed_at": "2026-02-03T09:00:00Z"}]}


def test_everything_is_valid_fhir():
    resources = fhir.everything(CLIENT_ID, PLAN, [NOTE, {**NOTE, "note_id": "n-2",
                                                          "signed_at": None}])
    assert [r["resourceType"] for r in resources] == [
        "Condition", "Condition", "Goal", "CarePlan", "DocumentReference"]
    for resource in resources:
        validated(resource)
    plan = validated(resources[3])
    assert plan["goal"] == [{"reference": "Goal/g-1"}]
    assert [a["reference"] for a in plan["addresses"]] == [
        f"Condition/{fhir_id(f'{CLIENT_ID}-{code}')}" for code in ("F32.1", "F41.1")]
    assert [c["id"] for c in resources[:2]] == [f"{CLIENT_ID}-F32.2E1", f"{CLIENT_ID}-F41.2E1"]


@pytest.mark.parametrize("status, lifecycle", sorted(fhir.LIFECYCLE.items()))
def test_each_goal_status_is_a_lifecycle_status(status, lifecycle):
    assert validated(fhir.goal(CLIENT_ID, {**GOAL, "status": status}))["lifecycleStatus"] \
        == lifecycle


@pytest.mark.parametrize("level, achievement", [(-2, "worsening"), (-1, "no-progress"),
                                                (0, "achieved"), (2, "achieved"),
                                                (None, None)])
def test_the_latest_gas_level_is_the_achievement(level, achievement):
    goal = validated(fhir.goal(CLIENT_ID, {**GOAL, "latest_level": level}))
    found = goal.get("achievementStatus", {}).get("coding", [{}])[0].get("code")
    assert found == achievement


def test_a_signed_note_carries_its_sections_and_addenda():
    document = validated(fhir.document_reference(NOTE))
    text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode()
    assert text == ("subjective: Slept five nights\n"
                    "addendum (dr-lee, 2026-02-03T09:00:00Z): Phoned next day")
    assert document["context"]["encounter"] == [{"reference": "Encounter/ap-1"}]
    assert fhir.document_reference({**NOTE, "signed_at": None}) is None
