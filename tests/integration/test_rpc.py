"""RPC entrypoints answer over the real broker with the same tenancy rules as HTTP."""
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.intake.service import Service as Intake
from tests.support import RunningService, token

pytestmark = pytest.mark.integration


def test_intake_client_over_rpc(sqlite_url, amqp_uri):
    with RunningService(Intake, sqlite_url, amqp_uri) as intake:
        client_id = intake.api.post("/clients", {
            "organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada",
            "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
            "primary_clinician_id": "user-1"}  # token(): in the care team
        ).json()["client_id"]
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as rpc:
            record = rpc.intake.client(token(), client_id)
            assert record["client_id"] == client_id and record["name"] == "Ada"
            with pytest.raises(RemoteError) as refused:
                rpc.intake.client(token(org="org-2", clinics=["*"]), client_id)
            assert refused.value.exc_type == "NotFound"
            with pytest.raises(RemoteError) as refused:
                rpc.intake.client("forged", client_id)
            assert refused.value.exc_type == "Unauthorized"
