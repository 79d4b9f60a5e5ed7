"""GET /fhir/Patient/{id}/$everything on each service: a searchset Bundle of the
client's record, every resource valid by the FHIR models, for clinical roles only,
and another tenant's client is 404."""
import uuid

import pytest
from fhir.resources.R4B import get_fhir_model_class

from services.intake.service import Service as Intake
from tests.integration.test_billing_service import (BILLING, SCHEDULE, known, session_held,
                                                    wait_for_charges)
from tests.integration.test_billing_service import billing  # noqa: F401 (fixture)
from tests.integration.test_intake_measurement import assess, register
from tests.integration.test_notes_service import GOAL, chart_of, known_client
from tests.integration.test_notes_service import notes  # noqa: F401 (fixture)
from tests.integration.test_scheduling_service import book, session
from tests.integration.test_scheduling_service import register as register_in_scheduling
from tests.integration.test_scheduling_service import scheduling  # noqa: F401 (fixture)
from tests.support import RunningService, publish_event, token

pytestmark = pytest.mark.integration


@pytest.fixture
def intake(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as running:
        yield running


def bundle_of(api, client_id, **kwargs):
    return api.get(f"/fhir/Patient/{client_id}/$everything", **kwargs)


def valid(bundle):
    """The Bundle and each resource in it, parsed by their FHIR models."""
    get_fhir_model_class("Bundle").model_validate(bundle)
    resources = [entry["resource"] for entry in bundle["entry"]]
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resources


def test_intake_exports_the_patient_consents_and_scored_questionnaires(intake):
    api = intake.api
    client_id = register(api)
    assess(api, client_id, [2, 2, 2, 2, 2, 1, 1, 1, 0])
    assert api.post(f"/clients/{client_id}/consents", {
        "kind": "treatment", "document_version": "v2"}).status_code == 201
    answer = bundle_of(api, client_id)
    assert answer.status_code == 200, answer.text
    resources = valid(answer.json())
    by_kind = {}
    for resource in resources:
        by_kind.setdefault(resource["resourceType"], []).append(resource)
    assert by_kind["Patient"][0]["id"] == client_id
    (observation,) = by_kind["Observation"]
    assert (observation["code"]["coding"][0]["code"], observation["valueInteger"]) == \
        ("44261-6", 13)
    (response,) = by_kind["QuestionnaireResponse"]
    assert [i["answer"][0]["valueInteger"] for i in response["item"]] == \
        [2, 2, 2, 2, 2, 1, 1, 1, 0]
    assert by_kind["Questionnaire"][0]["url"].endswith("/Questionnaire/PHQ-9-v1")
    assert [c["status"] for c in by_kind["Consent"]] == ["active"]
    assert by_kind["EpisodeOfCare"][0]["status"] == "active"


@pytest.mark.parametrize("role, status", [("front_desk", 403), ("billing", 403),
                                          ("integrator", 403), ("privacy_officer", 403)])
def test_only_clinical_roles_export(intake, role, status):
    client_id = register(intake.api)
    assert bundle_of(intake.api, client_id, bearer=token(role=role)).status_code == status


def test_another_tenants_client_is_not_found(intake):
    client_id = register(intake.api)
    for bearer in (token(role="admin", org="org-2", clinics=["*"]),
                   token(role="admin", clinics=["clinic-2"])):
        assert bundle_of(intake.api, client_id, bearer=bearer).status_code == 404
    assert bundle_of(intake.api, str(uuid.uuid4())).status_code == 404


def test_notes_exports_diagnoses_goals_the_plan_and_signed_notes_only(notes):  # noqa: F811
    api = notes.api
    client_id = known_client(notes)
    assert api.put(f"/clients/{client_id}/diagnoses", {"codes": ["F32.1"]}).status_code == 200
    goal = api.post(f"/clients/{client_id}/goals", GOAL)
    assert goal.status_code == 201, goal.text
    assert api.post("/psychotherapy-notes", {"client_id": client_id,
                                             "text": "never exported"}).status_code == 201
    answer = bundle_of(api, client_id)
    assert answer.status_code == 200, answer.text
    resources = valid(answer.json())
    assert [r["resourceType"] for r in resources] == ["Condition", "Goal", "CarePlan"]
    assert resources[0]["code"]["coding"][0]["code"] == "F32.1"
    assert resources[1]["lifecycleStatus"] == "active"
    assert "never exported" not in answer.text
    assert chart_of(notes, client_id)  # the chart still answers beside it
    assert bundle_of(api, client_id, bearer=token(role="front_desk")).status_code == 403
    other = token(role="admin", org="org-2", clinics=["*"])
    assert bundle_of(api, client_id, bearer=other).status_code == 404


def test_scheduling_exports_clinicians_appointments_and_sessions_held(scheduling):  # noqa: F811
    api = scheduling.api
    client_id = register_in_scheduling(scheduling)
    held = session(scheduling, client_id, minutes=45)
    booked = book(scheduling, client_id, start="2031-01-06T10:00:00Z")
    assert booked.status_code == 201, booked.text
    # The profile after the bookings: without working hours it would refuse them.
    assert api.put("/clinicians/dr-1", {"name": "Dr One", "clinic_ids": ["clinic-1"]},
                   bearer=token(role="admin")).status_code == 200
    answer = bundle_of(api, client_id)
    assert answer.status_code == 200, answer.text
    resources = valid(answer.json())
    assert [r["resourceType"] for r in resources] == [
        "Practitioner", "Appointment", "Encounter", "Appointment"]
    practitioner, done, encounter, ahead = resources
    assert practitioner["name"] == [{"text": "Dr One"}]
    assert (done["status"], ahead["status"]) == ("fulfilled", "booked")
    assert encounter["id"] == held["appointment_id"] and encounter["class"]["code"] == "VR"
    assert encounter["length"]["value"] == 45
    assert bundle_of(api, client_id, bearer=token(role="front_desk")).status_code == 403
    other = token(role="admin", org="org-2", clinics=["*"])
    assert bundle_of(api, client_id, bearer=other).status_code == 404


def test_billing_exports_charges_and_invoices(billing):  # noqa: F811
    api = billing.api
    assert api.put("/clinics/clinic-1/fee-schedule", SCHEDULE,
                   bearer=BILLING).status_code == 200
    client_id = str(uuid.uuid4())
    known(billing, client_id)
    publish_event(billing.amqp_uri, session_held(client_id, minutes=50))
    wait_for_charges(billing, client_id, 1)
    issued = api.post(f"/clients/{client_id}/invoices", {
        "period_start": "2026-03-01", "period_end": "2026-03-31", "issue": True},
        bearer=BILLING)
    assert issued.status_code == 201, issued.text
    answer = bundle_of(api, client_id)
    assert answer.status_code == 200, answer.text
    item, invoice = valid(answer.json())
    assert (item["resourceType"], item["status"]) == ("ChargeItem", "billed")
    assert item["code"]["coding"][0]["code"] == "90834"
    assert item["priceOverride"] == {"value": 120.0, "currency": "USD"}
    assert (invoice["resourceType"], invoice["status"]) == ("Invoice", "issued")
    assert invoice["lineItem"][0]["chargeItemReference"] == {
        "reference": f"ChargeItem/{item['id']}"}
    for role in ("billing", "front_desk"):
        assert bundle_of(api, client_id, bearer=token(role=role)).status_code == 403
    other = token(role="admin", org="org-2", clinics=["*"])
    assert bundle_of(api, client_id, bearer=other).status_code == 404
