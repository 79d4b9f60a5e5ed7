"""The access policy as data: decisions, the minimum-necessary shaping, and every
route of the four services named in it."""
import pytest

from services.billing.service import Service as Billing
from services.intake.service import Service as Intake
from services.notes.service import Service as Notes
from services.scheduling.service import Service as Scheduling
from shared import access
from shared.auth import ROLES
from shared.errors import Forbidden, NotFound
from shared.web import JsonHttp, check_route, routes

SERVICES = (Intake, Scheduling, Notes, Billing)
NON_CLINICAL = ("front_desk", "billing", "integrator")

CLIENT_VIEW = {
    "client_id": "c-1", "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
    "contact": {"email": "ada@example.org", "phone": None},
    "payer": {"kind": "insurer", "insurer_name": "Acme", "member_id": "M-1"},
    "episodes": [{"episode_id": "e-1", "status": "open", "discharge_reason": None}],
    "consents": [{"kind": "treatment", "status": "given"}],
    "assessments": [
        {"assessment_id": "a-1", "instrument": "PHQ-9", "kind": "baseline",
         "answers": [2, 2, 2, 2, 2, 2, 1, 1, 2], "total": 16, "severity": "moderately severe",
         "change": None, "assessed_at": "2026-01-05T10:00:00Z"},
        {"assessment_id": "a-2", "instrument": "PHQ-9", "kind": "reassessment",
         "answers": [1, 0, 1, 0, 1, 0, 0, 0, 0], "total": 3, "severity": "minimal",
         "change": {"rci": -3.2, "category": "recovered"},
         "assessed_at": "2026-02-05T10:00:00Z"}],
}


def every_route():
    return [(service.name, name, entrypoint) for service in SERVICES
            for name, entrypoint in routes(service)]


# -- decisions -------------------------------------------------------------------------
def test_the_table_names_known_roles_only_and_every_resource_has_a_reader_or_writer():
    for resource in access.TABLE.values():
        assert resource.actions, resource.name
        for action, roles in resource.actions.items():
            assert set(roles) <= set(ROLES), (resource.name, action)
        assert any(resource.actions.values()), resource.name
        for field_name, roles in resource.fields.items():
            assert set(roles) <= set(ROLES), (resource.name, field_name)


def test_decisions_follow_the_minimum_necessary_rule():
    decide = access.decide
    for role in NON_CLINICAL + ("client", "privacy_officer"):
        for resource in ("assessment", "outcome", "risk_flag", "chart", "progress_note",
                         "treatment_plan", "goal"):
            assert decide(role, resource, "read") == access.DENY, (role, resource)
    for role in ("admin", "clinician"):
        assert decide(role, "assessment", "read") == access.ALLOW
        assert decide(role, "risk_flag", "change") == access.ALLOW
    # Front desk: demographics, contact, schedule and balances.
    for resource in ("client", "appointment", "calendar", "balance", "consent"):
        assert decide("front_desk", resource, "read") == access.ALLOW, resource
    # Billing: what a bill or claim needs.
    for resource in ("client", "charge", "invoice", "superbill", "diagnosis"):
        assert decide("billing", resource, "read") == access.ALLOW, resource
    assert decide("billing", "consent", "read") == access.DENY
    assert decide("integrator", "events_feed", "read") == access.ALLOW
    assert decide("integrator", "consent", "read") == access.DENY
    assert decide("front_desk", "superbill", "read") == access.DENY  # it carries diagnoses
    # The privacy officer: the audit trail and the break-glass list, never records.
    assert [r for r in access.TABLE if decide("privacy_officer", r, "read") == access.ALLOW] \
        == ["break_glass", "audit"]
    assert decide("clinician", "audit", "read") == access.DENY
    # Finer actions than read and change.
    assert decide("clinician", "progress_note", "add_addendum") == access.ALLOW
    assert decide("admin", "progress_note", "add_addendum") == access.DENY
    assert decide("client", "appointment", "cancel") == access.ALLOW
    assert decide("client", "appointment", "change") == access.DENY
    assert decide("front_desk", "episode", "open") == access.ALLOW
    assert decide("front_desk", "episode", "discharge") == access.DENY


def test_psychotherapy_notes_are_concealed_from_everybody_but_clinicians():
    for role in ROLES:
        expected = access.ALLOW if role == "clinician" else access.CONCEAL
        assert access.decide(role, "psychotherapy_note", "read") == expected, role
    with pytest.raises(NotFound):
        access.require("admin", "psychotherapy_note", "read", one_record=True)
    with pytest.raises(Forbidden):
        access.require("admin", "psychotherapy_note", "change", one_record=False)


def test_a_refusal_names_the_role_and_the_resource():
    with pytest.raises(Forbidden) as refused:
        access.require("front_desk", "outcome", "read")
    assert "front_desk" in str(refused.value) and "outcome" in str(refused.value)
    access.require("clinician", "outcome", "read")  # allowed: no exception


def test_an_unknown_resource_fails_loudly_and_an_undeclared_action_allows_nobody():
    with pytest.raises(access.UnknownResource):
        access.decide("admin", "clients", "read")
    assert access.roles_for("outcome", "change") == frozenset()
    assert access.decide("admin", "outcome", "change") == access.DENY


# -- shaping ---------------------------------------------------------------------------
def test_non_clinical_roles_see_no_answers_scores_or_change_at_any_depth():
    for role in NON_CLINICAL + ("client",):
        shaped = access.shape(role, "client", CLIENT_VIEW)
        assert [a["assessment_id"] for a in shaped["assessments"]] == ["a-1", "a-2"]
        for assessment in shaped["assessments"]:
            assert set(assessment) == {"assessment_id", "instrument", "kind", "assessed_at"}
        assert shaped["contact"] == CLIENT_VIEW["contact"], role
        assert shaped["payer"] == CLIENT_VIEW["payer"], role
    assert "consents" in access.shape("front_desk", "client", CLIENT_VIEW)
    assert "consents" in access.shape("client", "client", CLIENT_VIEW)
    for role in ("billing", "integrator"):
        assert "consents" not in access.shape(role, "client", CLIENT_VIEW)
        assert "discharge_reason" not in access.shape(role, "client", CLIENT_VIEW)["episodes"][0]
    assert CLIENT_VIEW["assessments"][0]["answers"]  # the input is left alone


def test_clinicians_and_admins_see_the_whole_client_view():
    for role in ("admin", "clinician"):
        assert access.shape(role, "client", CLIENT_VIEW) == CLIENT_VIEW
        assert access.hidden_fields(role, "client") == frozenset()
    assert {"answers", "total", "severity", "change"} <= access.visible_fields(
        "clinician", "client")
    assert {"answers", "total", "severity", "change"} <= access.hidden_fields(
        "front_desk", "client")


def test_integrators_get_the_feed_without_clinical_free_text():
    feed = {"events": [
        {"type": "praxis.notes.GoalSet.v1", "data": {"goal_id": "g", "description": "Sleep"}},
        {"type": "praxis.intake.RiskFlagAcknowledged.v1",
         "data": {"flag_id": "f", "action_taken": "Safety plan agreed"}},
        {"type": "praxis.scheduling.SessionHeld.v1", "data": {"minutes": 50}}]}
    shaped = access.shape("integrator", "events_feed", feed)
    assert [e["data"] for e in shaped["events"]] == [{"goal_id": "g"}, {"flag_id": "f"},
                                                    {"minutes": 50}]
    assert access.shape("admin", "events_feed", feed) == feed


def test_lists_and_tuples_are_shaped_element_by_element():
    payload = [{"answers": [1], "kept": {"total": 3, "name": "x"}}]
    assert access.shape("billing", "client", payload) == [{"kept": {"name": "x"}}]


# -- every route of every service ----------------------------------------------------------
def test_every_route_of_every_service_names_a_resource_some_role_may_use():
    found = every_route()
    assert len(found) > 100  # the four services' routes, /events included
    for service, name, entrypoint in found:
        if entrypoint.public:
            continue
        where = (service, name, entrypoint.method, entrypoint.url)
        assert entrypoint.resource in access.TABLE, where
        assert access.roles_for(entrypoint.resource, entrypoint.action), where
        check_route(entrypoint)
        # Every role has a decision for it.
        for role in ROLES:
            assert access.decide(role, entrypoint.resource, entrypoint.action) in (
                access.ALLOW, access.DENY, access.CONCEAL), (where, role)
    events = [e for _, _, e in found if e.url == "/events"]
    assert len(events) == 4 and {e.resource for e in events} == {"events_feed"}
    public = {e.url for _, _, e in found if e.public}
    assert public == {"/metrics", "/livez", "/readyz", "/healthz", "/openapi.json",
                      "/asyncapi.json",
                      "/clinicians/<clinician_id>/calendar.ics"}


def test_every_rpc_entrypoint_names_a_resource_too():
    from shared.runtime import AuditedRpc

    found = [(service.name, name, entrypoint) for service in SERVICES for name in dir(service)
             for entrypoint in getattr(getattr(service, name), "nameko_entrypoints", ())
             if isinstance(entrypoint, AuditedRpc)]
    assert {(service, name) for service, name, _ in found} >= {
        ("intake", "client"), ("intake", "outcomes"), ("billing", "balance")}
    for service, name, entrypoint in found:
        assert access.roles_for(entrypoint.resource, entrypoint.action), (service, name)


def test_a_route_without_a_resource_stops_the_service_from_starting():
    class Unnamed(JsonHttp):
        pass

    with pytest.raises(access.UnknownResource, match="names no resource"):
        check_route(Unnamed("GET", "/somewhere"))
    with pytest.raises(access.UnknownResource):
        check_route(Unnamed("GET", "/somewhere", resource="no_such_thing"))
    with pytest.raises(access.UnknownResource, match="no role may"):
        check_route(Unnamed("POST", "/outcomes", resource="outcome"))
    check_route(Unnamed("GET", "/metrics", public=True))


def test_routes_that_answer_pdf_or_images_are_read_only_by_roles_that_see_everything():
    # A Response cannot be shaped; the web layer refuses it to a role with hidden fields.
    for url in ("/clients/<uuid:client_id>/superbill.pdf",
                "/clients/<uuid:client_id>/outcomes/<instrument>/chart"):
        (entrypoint,) = [e for _, _, e in every_route() if e.url == url]
        for role in access.roles_for(entrypoint.resource, entrypoint.action):
            assert access.hidden_fields(role, entrypoint.resource) == frozenset(), (url, role)


def test_the_readme_table_is_the_policy():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert access.embedded(readme) == access.markdown()
