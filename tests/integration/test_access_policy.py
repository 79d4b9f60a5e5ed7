"""The access policy over real HTTP (intake on SQLite and PostgreSQL, RabbitMQ):
roles are refused before the body is read, and a client's record is shaped by
role: front desk, billing and integrators never see answers, scores or change."""
import json

import pytest

from shared.auth import issue_token
from tests.integration.test_intake_measurement import (  # noqa: F401 (the intake fixture)
    assess, intake, register,
)
from tests.support import SECRET, token

pytestmark = pytest.mark.integration

SENSITIVE = {"answers", "answer", "total", "severity", "change", "rci", "risk_flags"}


def keys_of(value):
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def client_token(client_id):
    return issue_token(SECRET, "client-user", "client", "org-1", ["clinic-1"],
                       client_id=client_id)


def recorded(intake):
    """A client with a consent, a baseline PHQ-9 answering item 9 (a risk flag) and a
    reassessment (a change against the baseline)."""
    api = intake.api
    client_id = register(api)
    assert api.post(f"/clients/{client_id}/consents", {
        "kind": "treatment", "document_version": "v1"}).status_code == 201
    baseline = assess(api, client_id, [3, 3, 3, 3, 2, 2, 2, 2, 1])
    assert baseline["raised"], baseline  # item 9 above 0
    assess(api, client_id, [1, 0, 1, 0, 1, 0, 0, 0, 0])
    return client_id


def test_a_clients_record_is_shaped_by_role(intake):
    api = intake.api
    client_id = recorded(intake)
    path = f"/clients/{client_id}"

    for role in ("admin", "clinician"):
        view = api.get(path, bearer=token(role=role)).json()
        baseline, reassessment = view["assessments"]
        assert baseline["answers"] == [3, 3, 3, 3, 2, 2, 2, 2, 1], role
        assert (baseline["total"], baseline["severity"]) == (21, "severe"), role
        assert reassessment["change"]["category"] == "recovered", role
        assert [c["kind"] for c in view["consents"]] == ["treatment"], role

    full = api.get(path, bearer=token(role="admin")).json()
    for role in ("front_desk", "billing", "integrator"):
        response = api.get(path, bearer=token(role=role))
        assert response.status_code == 200, (role, response.text)
        view = response.json()
        assert keys_of(view) & SENSITIVE == set(), role
        # What they may see is all there: demographics, contact, payer, which
        # instruments were given when.
        for field in ("name", "date_of_birth", "contact", "payer"):
            assert view[field] == full[field], (role, field)
        assert [e["episode_id"] for e in view["episodes"]] == [
            e["episode_id"] for e in full["episodes"]], role
        assert [(a["assessment_id"], a["instrument"], a["assessed_at"])
                for a in view["assessments"]] == [
            (a["assessment_id"], a["instrument"], a["assessed_at"])
            for a in full["assessments"]], role
    assert "consents" in api.get(path, bearer=token(role="front_desk")).json()
    for role in ("billing", "integrator"):
        assert "consents" not in api.get(path, bearer=token(role=role)).json(), role

    # The client: their own record's client-facing parts; another's is 404.
    own = api.get(path, bearer=client_token(client_id))
    assert own.status_code == 200 and keys_of(own.json()) & SENSITIVE == set()
    assert own.json()["consents"][0]["kind"] == "treatment"
    other = register(api, name="Grace Hopper")
    assert api.get(f"/clients/{other}", bearer=client_token(client_id)).status_code == 404

    # The privacy officer reads no records; clinical lists are clinicians' only.
    refused = api.get(path, bearer=token(role="privacy_officer"))
    assert refused.status_code == 403
    assert "privacy_officer" in refused.text and "client" in refused.text
    for role in ("front_desk", "billing", "integrator", "privacy_officer"):
        for clinical in (f"{path}/outcomes", "/clinics/clinic-1/risk-flags",
                         "/clinics/clinic-1/alerts", "/clinics/clinic-1/outcomes"):
            response = api.get(clinical, bearer=token(role=role))
            assert response.status_code == 403, (role, clinical)
            assert "[" not in response.text and "severity" not in response.text


def test_consents_follow_the_table_and_refusals_come_before_the_body(intake):
    api = intake.api
    client_id = recorded(intake)
    path = f"/clients/{client_id}/consents"
    readers = {"admin": token(role="admin"), "clinician": token(),
               "front_desk": token(role="front_desk"), "client": client_token(client_id)}
    for role, bearer in readers.items():
        response = api.get(path, bearer=bearer)
        assert response.status_code == 200, (role, response.text)
        assert [c["kind"] for c in response.json()["consents"]] == ["treatment"], role
    for role in ("billing", "integrator", "privacy_officer"):
        response = api.get(path, bearer=token(role=role))
        assert response.status_code == 403, role
        assert role in response.json()["message"] and "consent" in response.json()["message"]

    events_before = len(intake.application.store.read_all())
    # Not JSON at all: a role that may not give consent hears 403, not 400.
    for role in ("billing", "integrator", "privacy_officer"):
        response = api.request("POST", path, bearer=token(role=role), data="{not json",
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 403, (role, response.text)
        response = api.post(f"{path}/treatment/revoke", {}, bearer=token(role=role))
        assert response.status_code == 403, role
    # A client does not record consents through the staff API either.
    assert api.post(path, {"kind": "telehealth", "document_version": "v1"},
                    bearer=client_token(client_id)).status_code == 403
    assert len(intake.application.store.read_all()) == events_before
    # Front desk records them.
    given = api.post(path, {"kind": "telehealth", "document_version": "v1"},
                     bearer=token(role="front_desk"))
    assert given.status_code == 201, given.text


def test_the_assessment_answer_is_not_in_any_non_clinical_response_text(intake):
    api = intake.api
    client_id = recorded(intake)
    for role in ("front_desk", "billing", "integrator"):
        text = api.get(f"/clients/{client_id}", bearer=token(role=role)).text
        assert "severe" not in text and '"answers"' not in text, role
        assert json.loads(text)["client_id"] == client_id


def test_rpc_twins_follow_the_same_policy(intake):
    from nameko.exceptions import RemoteError
    from nameko.standalone.rpc import ClusterRpcProxy

    client_id = recorded(intake)
    with ClusterRpcProxy({"AMQP_URI": intake.amqp_uri}) as rpc:
        full = rpc.intake.client(token(), client_id)
        assert full["assessments"][0]["answers"] == [3, 3, 3, 3, 2, 2, 2, 2, 1]
        for role in ("front_desk", "billing", "integrator"):
            shaped = rpc.intake.client(token(role=role), client_id)
            assert shaped["client_id"] == client_id and keys_of(shaped) & SENSITIVE == set()
            with pytest.raises(RemoteError) as refused:
                rpc.intake.outcomes(token(role=role), client_id)
            assert refused.value.exc_type == "Forbidden", role
        with pytest.raises(RemoteError) as refused:
            rpc.intake.client(token(role="privacy_officer"), client_id)
        assert refused.value.exc_type == "Forbidden"
        assert rpc.intake.outcomes(token(), client_id)["instruments"][0]["instrument"] == "PHQ-9"
