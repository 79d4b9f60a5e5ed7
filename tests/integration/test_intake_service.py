import pytest

from services.intake.service import Service as Intake
from tests.support import RunningService, token

pytestmark = pytest.mark.integration

# The default token's clinician (tests.support.token) is the primary clinician.
CLIENT = {"organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada Lovelace",
          "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
          "primary_clinician_id": "user-1"}


@pytest.fixture
def intake(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as running:
        yield running


def test_register_assess_and_read_back(intake):
    api = intake.api
    created = api.post("/clients", CLIENT)
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]

    first = api.post(f"/clients/{client_id}/assessments",
                     {"instrument": "PHQ-9", "answers": [2, 2, 2, 2, 2, 1, 1, 1, 0]})
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "initial"
    assert first.json()["total"] == 13 and first.json()["severity"] == "moderate"

    second = api.post(f"/clients/{client_id}/assessments",
                      {"instrument": "PHQ-9", "answers": [0, 1, 0, 1, 0, 0, 0, 0, 0]})
    assert second.json()["kind"] == "reassessment"

    record = api.get(f"/clients/{client_id}").json()
    assert [a["total"] for a in record["assessments"]] == [13, 2]


def test_bad_input_names_the_field_and_stores_nothing(intake):
    api = intake.api
    response = api.post("/clients", {**CLIENT, "date_of_birth": "yesterday"})
    assert response.status_code == 422
    assert "date_of_birth" in response.json()["fields"]
    client_id = api.post("/clients", CLIENT).json()["client_id"]
    response = api.post(f"/clients/{client_id}/assessments",
                        {"instrument": "PHQ-9", "answers": [0, 0, 0, 0, 4, 0, 0, 0, 0]})
    assert response.status_code == 422
    assert response.json()["fields"] == {"answers.5": ["must be an integer 0-3"]}
    assert api.get(f"/clients/{client_id}").json()["assessments"] == []
    events = intake.application.store.read_all()
    assert [e.name for _, e in events] == ["ClientRegistered", "EpisodeOpened"]


def test_tokens_and_tenancy(intake):
    api = intake.api
    assert api.post("/clients", CLIENT, bearer="").status_code == 401
    assert api.post("/clients", CLIENT, bearer="not-a-jwt").status_code == 401
    other_clinic = token(clinics=["clinic-2"])
    assert api.post("/clients", CLIENT, bearer=other_clinic).status_code == 403
    client_id = api.post("/clients", CLIENT).json()["client_id"]
    other_org = token(org="org-2", clinics=["*"])
    assert api.get(f"/clients/{client_id}", bearer=other_org).status_code == 404
    assert api.get(f"/clients/{client_id}", bearer=other_clinic).status_code == 404
    assert api.get(f"/clients/{client_id}", bearer=token(clinics=["*"])).status_code == 200
