"""GET /asyncapi.json on every service: the event contract, without a token; and the
events a service appends name their JSON Schema (`dataschema`)."""
import pytest

from services.billing.service import Service as Billing
from services.intake.service import Service as Intake
from shared import asyncapi
from tests.support import RunningService, token

pytestmark = pytest.mark.integration

ADMIN = token(role="admin", clinics=["*"])


@pytest.mark.parametrize("service_class", [Intake, Billing])
def test_every_service_serves_the_asyncapi_document(service_class, sqlite_url, amqp_uri):
    with RunningService(service_class, sqlite_url, amqp_uri) as running:
        response = running.api.get("/asyncapi.json", bearer="")
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == asyncapi.document()


def test_appended_events_carry_their_dataschema(sqlite_url, amqp_uri):
    with RunningService(Intake, sqlite_url, amqp_uri) as intake:
        created = intake.api.post("/clients", bearer=ADMIN, json={
            "organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Schema Reader",
            "date_of_birth": "1985-06-07", "contact": {"email": "reader@example.org"}})
        assert created.status_code in (200, 201), created.text
        feed = intake.api.get("/events", bearer=ADMIN, params={"limit": 10}).json()["events"]
        (registered,) = [e["event"] for e in feed
                         if e["event"]["type"] == "praxis.intake.ClientRegistered.v1"]
        assert registered["dataschema"] == (
            "https://praxis.example/events/schemas/intake.ClientRegistered.v1.json")
