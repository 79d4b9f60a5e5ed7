"""Intake's tenancy comes from its own records: whatever ids and clinic_id a
request carries, a record outside the token's reach is 404 (403 when the
request itself names a clinic or organisation the token lacks), nothing is
changed, and the answer never names the foreign record."""
import uuid

import pytest

from services.intake.service import Service as Intake
from shared.auth import issue_token
from tests.support import SECRET, RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

CLINICIAN = token(role="clinician", clinics=["clinic-1"])  # org-1, clinic-1
ADMIN = token(role="admin", clinics=["*"])                 # org-1, every clinic
OTHER_ORG = token(role="admin", org="org-2", clinics=["*"])
RISKY = [2, 2, 2, 2, 2, 2, 1, 1, 1]  # PHQ-9 item 9 above 0: a risk flag

# Every intake route that takes a record id; {c} client, {f} risk flag.
CLIENT_ROUTES = [
    ("GET", "/clients/{c}", None),
    ("PATCH", "/clients/{c}", {"pronouns": "they/them"}),
    ("GET", "/clients/{c}/consents", None),
    ("POST", "/clients/{c}/consents", {"kind": "telehealth", "document_version": "v9"}),
    ("POST", "/clients/{c}/consents/treatment/revoke", {}),
    ("POST", "/clients/{c}/episodes", {}),
    ("POST", "/clients/{c}/discharge", {"reason": "planned_ending"}),
    ("POST", "/clients/{c}/assessments", {"instrument": "PHQ-9", "answers": [0] * 9}),
    ("GET", "/clients/{c}/outcomes", None),
    ("GET", "/clients/{c}/outcomes/PHQ-9/chart", None),
    ("POST", "/clients/{c}/risk-flags/{f}/acknowledge", {"action_taken": "Called the client"}),
]


@pytest.fixture
def intake(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def register(api, name, org="org-1", clinic="clinic-1", bearer=None):
    """A client with a consent, a risk flag and a GAD-7: something on every route."""
    response = api.post("/clients", {
        "organisation_id": org, "clinic_id": clinic, "name": name,
        "date_of_birth": "1990-01-02", "contact": {"email": "someone@example.org"},
        "primary_clinician_id": "user-1"},  # CLINICIAN: in the care team (shared/care_team.py)
        bearer=bearer)
    assert response.status_code == 201, response.text
    client_id, episode_id = response.json()["client_id"], response.json()["episode_id"]
    assert api.post(f"/clients/{client_id}/consents", {
        "kind": "treatment", "document_version": "v1"}, bearer=bearer).status_code == 201
    phq = api.post(f"/clients/{client_id}/assessments",
                   {"instrument": "PHQ-9", "answers": RISKY}, bearer=bearer).json()
    gad = api.post(f"/clients/{client_id}/assessments",
                   {"instrument": "GAD-7", "answers": [1] * 7}, bearer=bearer).json()
    (flag,) = [r["flag_id"] for r in phq["raised"]]
    return {"client_id": client_id, "name": name, "episode_id": episode_id, "flag_id": flag,
            "assessment_ids": [phq["assessment_id"], gad["assessment_id"]]}


def identifiers(record):
    return [record["client_id"], record["name"], record["episode_id"], record["flag_id"],
            *record["assessment_ids"]]


def stream_length(intake, record):
    return sum(1 for _, e in intake.application.store.read_all()
               if e.subject == f"client-{record['client_id']}")


def call(api, method, path, body, bearer, params=None):
    return api.request(method, path, bearer=bearer, params=params,
                       json=body if method != "GET" else None)


def variants(body, own_clinic, lacking_clinic):
    """(query, body, expected status): bare, naming the token's own clinic, naming
    a clinic (or organisation) the token lacks in the query and in the body."""
    yield None, body, 404
    yield {"clinic_id": own_clinic}, body, 404
    yield {**lacking_clinic}, body, 403
    if body is not None:
        yield None, {**body, "clinic_id": own_clinic}, 404
        yield None, {**body, **lacking_clinic}, 403


@pytest.fixture
def records(intake):
    api = intake.api
    return {
        "own": register(api, "Ada Lovelace", bearer=CLINICIAN),
        "sibling": register(api, "Grace Hopper", bearer=CLINICIAN),  # same clinic
        "other_clinic": register(api, "Mary Somerville", clinic="clinic-2", bearer=ADMIN),
        # Another organisation, with a clinic of the same name.
        "other_org": register(api, "Hedy Lamarr", org="org-2", bearer=OTHER_ORG),
    }


def test_every_client_route_refuses_records_outside_the_token(intake, records):
    api = intake.api
    made_up = {"client_id": str(uuid.uuid4()), "name": "Nobody At All",
               "episode_id": str(uuid.uuid4()), "flag_id": str(uuid.uuid4()),
               "assessment_ids": []}
    cases = [
        ("a clinician of clinic-1, another clinic's client", CLINICIAN,
         records["other_clinic"], "clinic-1", {"clinic_id": "clinic-2"}),
        ("a clinician of clinic-1, another organisation's client", CLINICIAN,
         records["other_org"], "clinic-1", {"clinic_id": "clinic-9"}),
        ("an admin of every clinic, another organisation's client", ADMIN,
         records["other_org"], "clinic-1", {"organisation_id": "org-2"}),
        ("another organisation's admin, org-1's client", OTHER_ORG,
         records["own"], "clinic-1", {"organisation_id": "org-1"}),
        ("a clinician of clinic-1, an id nobody has", CLINICIAN, made_up, "clinic-1",
         {"clinic_id": "clinic-2"}),
    ]
    before = {name: stream_length(intake, record) for name, record in records.items()}
    wrong = []
    for who, bearer, foreign, own_clinic, lacking in cases:
        for method, template, body in CLIENT_ROUTES:
            path = template.format(c=foreign["client_id"], f=foreign["flag_id"])
            for query, sent, expected in variants(body, own_clinic, lacking):
                response = call(api, method, path, sent, bearer, query)
                leaked = [i for i in identifiers(foreign) if i in response.text]
                if response.status_code != expected or leaked:
                    wrong.append(f"{who}: {method} {template} query={query} body={sent}: "
                                 f"{response.status_code} (expected {expected}) "
                                 f"leaked={leaked} {response.text[:120]}")
        # A foreign episode id, on the foreign client and on one's own.
        for path in (f"/clients/{foreign['client_id']}/outcomes",
                     f"/clients/{foreign['client_id']}/outcomes/PHQ-9/chart"):
            response = api.get(path, bearer=bearer, params={"episode_id": foreign["episode_id"]})
            if response.status_code != 404:
                wrong.append(f"{who}: GET {path}?episode_id=: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    # Not even a body that is not JSON gets an answer about itself first.
    foreign = records["other_clinic"]["client_id"]
    garbled = api.request("POST", f"/clients/{foreign}/assessments", bearer=CLINICIAN,
                          data="not json", headers={"Content-Type": "application/json"})
    assert garbled.status_code == 404
    own = records["own"]["client_id"]
    assert api.request("POST", f"/clients/{own}/assessments", bearer=CLINICIAN,
                       data="not json").status_code == 400
    after = {name: stream_length(intake, record) for name, record in records.items()}
    assert after == before


def test_a_flag_or_episode_of_another_client_is_not_found_on_ones_own(intake, records):
    api = intake.api
    own = records["own"]
    wrong = []
    for name in ("sibling", "other_clinic", "other_org"):
        foreign = records[name]
        for bearer in (CLINICIAN, ADMIN):
            acknowledged = api.post(
                f"/clients/{own['client_id']}/risk-flags/{foreign['flag_id']}/acknowledge",
                {"action_taken": "Safety plan reviewed"}, bearer=bearer)
            outcomes = api.get(f"/clients/{own['client_id']}/outcomes", bearer=bearer,
                               params={"episode_id": foreign["episode_id"]})
            chart = api.get(f"/clients/{own['client_id']}/outcomes/PHQ-9/chart",
                            bearer=bearer, params={"episode_id": foreign["episode_id"]})
            for what, response in (("acknowledge", acknowledged), ("outcomes", outcomes),
                                   ("chart", chart)):
                leaked = [i for i in identifiers(foreign) if i in response.text]
                if response.status_code != 404 or leaked:
                    wrong.append(f"{name} {what}: {response.status_code} {leaked}")
    assert not wrong, "\n".join(wrong)
    # The sibling's flag is still open: nobody acknowledged it through Ada's record.
    flags = api.get("/clinics/clinic-1/risk-flags", bearer=CLINICIAN).json()["risk_flags"]
    assert records["sibling"]["flag_id"] in [f["flag_id"] for f in flags]
    # And on one's own record the flag and the episode still work.
    assert api.post(f"/clients/{own['client_id']}/risk-flags/{own['flag_id']}/acknowledge",
                    {"action_taken": "Safety plan reviewed"},
                    bearer=CLINICIAN).status_code == 200
    assert api.get(f"/clients/{own['client_id']}/outcomes", bearer=CLINICIAN,
                   params={"episode_id": own["episode_id"]}).status_code == 200


def test_naming_ones_own_clinic_still_reaches_ones_own_record(intake, records):
    api = intake.api
    own = records["own"]
    for method, template, body in CLIENT_ROUTES[:3] + CLIENT_ROUTES[8:10]:
        path = template.format(c=own["client_id"], f=own["flag_id"])
        response = call(api, method, path, body, CLINICIAN, {"clinic_id": "clinic-1"})
        assert response.status_code == 200, (template, response.text)
    # An admin of every clinic naming a clinic the record is not in: 404, not a move.
    response = api.get(f"/clients/{own['client_id']}", bearer=ADMIN,
                       params={"clinic_id": "clinic-2"})
    assert response.status_code == 404 and own["name"] not in response.text
    patched = api.request("PATCH", f"/clients/{own['client_id']}", bearer=ADMIN,
                          json={"pronouns": "she/her", "clinic_id": "clinic-2"})
    assert patched.status_code == 404
    assert api.get(f"/clients/{own['client_id']}").json()["clinic_id"] == "clinic-1"


def test_a_client_reaches_only_their_own_record(intake, records):
    api = intake.api
    portal = issue_token(SECRET, "client-user", "client", "org-1", ["clinic-1"],
                         client_id=records["own"]["client_id"])
    assert api.get(f"/clients/{records['own']['client_id']}", bearer=portal).status_code == 200
    sibling = records["sibling"]
    for query in (None, {"clinic_id": "clinic-1"}):
        response = api.get(f"/clients/{sibling['client_id']}", bearer=portal, params=query)
        assert response.status_code == 404 and sibling["name"] not in response.text
        response = api.get(f"/clients/{sibling['client_id']}/consents", bearer=portal,
                           params=query)
        assert response.status_code == 404 and sibling["name"] not in response.text


def test_clinic_lists_and_instruments_stay_within_the_token(intake, records):
    api = intake.api
    private = {"code": "ORG2-SCALE", "name": "Organisation two's private scale",
               "items": ["a", "b"], "lowest": 0, "highest": 4,
               "bands": [{"low": 0, "high": 3, "label": "low"},
                         {"low": 4, "high": 8, "label": "high"}],
               "cut_off": 4, "sd": 2.0, "reliability": 0.8}
    assert api.post("/instruments", private, bearer=OTHER_ORG).status_code == 201
    for params in (None, {"version": 1}):
        response = api.get("/instruments/ORG2-SCALE", bearer=ADMIN, params=params)
        assert response.status_code == 404 and "private scale" not in response.text
    assessed = api.post(f"/clients/{records['own']['client_id']}/assessments",
                        {"instrument": "ORG2-SCALE", "answers": [1, 1]}, bearer=CLINICIAN)
    assert assessed.status_code == 422 and "private scale" not in assessed.text

    lists = ["/clinics/{k}/reassessments/pending", "/clinics/{k}/risk-flags",
             "/clinics/{k}/alerts", "/clinics/{k}/outcomes", "/clinics/{k}/not-on-track-rule"]
    for template in lists:
        assert api.get(template.format(k="clinic-2"), bearer=CLINICIAN).status_code == 403
        # Org-1 and org-2 both have a clinic-1: each sees only its own organisation's.
        for bearer, mine, theirs in ((CLINICIAN, "own", "other_org"),
                                     (OTHER_ORG, "other_org", "own")):
            response = api.get(template.format(k="clinic-1"), bearer=bearer)
            assert response.status_code == 200, response.text
            assert not [i for i in identifiers(records[theirs]) if i in response.text], template
    flags = api.get("/clinics/clinic-1/risk-flags", bearer=CLINICIAN).json()["risk_flags"]
    assert {f["client_id"] for f in flags} == {records["own"]["client_id"],
                                              records["sibling"]["client_id"]}
    assert api.put("/clinics/clinic-2/not-on-track-rule", {
        "reassessments_without_improvement": 2, "sessions_without_improvement": None,
        "on_reliable_deterioration": True},
        bearer=token(role="admin", clinics=["clinic-1"])).status_code == 403
    listed = api.get("/clients", bearer=CLINICIAN, params={"clinic_id": "clinic-2"})
    assert listed.status_code == 403 and "Mary" not in listed.text
    mine = api.get("/clients", bearer=OTHER_ORG, params={"clinic_id": "clinic-1"}).json()
    assert [c["name"] for c in mine["clients"]] == ["Hedy Lamarr"]


def test_events_naming_another_clinic_do_not_touch_a_client(intake, records):
    """A scheduling event is about its own organisation and clinic: one that names a
    client of another clinic changes nothing (the client's clinic is intake's)."""
    api = intake.api
    own = records["own"]
    assert api.put("/clinics/clinic-2/not-on-track-rule", {
        "reassessments_without_improvement": None, "sessions_without_improvement": 1,
        "on_reliable_deterioration": True}, bearer=ADMIN).status_code == 200
    assert api.put("/clinics/clinic-1/not-on-track-rule", {
        "reassessments_without_improvement": None, "sessions_without_improvement": 1,
        "on_reliable_deterioration": True}, bearer=ADMIN).status_code == 200
    due = make_event("scheduling", "ReassessmentDue", {
        "client_id": own["client_id"], "sessions_since_assessment": 4,
        "last_assessment_id": own["assessment_ids"][-1], "reason": "every 4 sessions",
        "due_at": "2026-03-01T09:00:00Z"}, subject=f"reassessment-{own['client_id']}",
        clinic="clinic-2")
    appointment_id = str(uuid.uuid4())
    held = make_event("scheduling", "SessionHeld", {
        "appointment_id": appointment_id, "client_id": own["client_id"],
        "clinician_id": "clinician-1", "start": "2026-03-01T10:00:00Z", "minutes": 50,
        "modality": "video", "session_type": "individual", "place_of_service": "office",
        "audio_only": False, "session_number": 3},
        subject=f"appointment-{appointment_id}", sequence=2, clinic="clinic-2")
    for event in (due, held):
        publish_event(intake.amqp_uri, event)
    wait_until(lambda: {due.id, held.id} <= {e.id for _, e in
                                             intake.application.store.read_all()},
               message="both events consumed")
    for clinic in ("clinic-1", "clinic-2"):
        pending = api.get(f"/clinics/{clinic}/reassessments/pending", bearer=ADMIN).json()
        assert pending["pending"] == [], clinic
        alerts = api.get(f"/clinics/{clinic}/alerts", bearer=ADMIN).json()["alerts"]
        assert [a for a in alerts if a["kind"] == "not_on_track"] == [], clinic


def test_a_clinic_list_outside_the_token_is_403_whatever_its_parameters(intake):
    api = intake.api
    lists = [("GET", "/clinics/{k}/reassessments/pending", None),
             ("GET", "/clinics/{k}/risk-flags", None), ("GET", "/clinics/{k}/alerts", None),
             ("GET", "/clinics/{k}/outcomes", None),
             ("GET", "/clinics/{k}/not-on-track-rule", None),
             ("PUT", "/clinics/{k}/not-on-track-rule", {
                 "reassessments_without_improvement": 2, "sessions_without_improvement": None,
                 "on_reliable_deterioration": True})]
    clinic_admin = token(role="admin", clinics=["clinic-1"])
    wrong = []
    for method, template, body in lists:
        checks = [  # (clinic in the path, query, body, token, expected)
            ("clinic-2", None, body, clinic_admin, 403),
            ("clinic-2", {"from": "March", "status": "none"}, body and {}, clinic_admin, 403),
            ("clinic-1", {"clinic_id": "clinic-2"}, body, clinic_admin, 403),
            ("clinic-1", {"organisation_id": "org-2"}, body, clinic_admin, 403),
            ("clinic-1", {"clinic_id": "clinic-1"}, body, clinic_admin, 200),
            ("clinic-1", {"clinic_id": "clinic-2"}, body, ADMIN, 422),
        ]
        if body is not None:
            checks += [("clinic-1", None, {**body, "clinic_id": "clinic-2"}, clinic_admin, 403),
                       ("clinic-1", None, {**body, "clinic_id": "clinic-1"}, clinic_admin, 200)]
        for clinic, query, sent, bearer, expected in checks:
            response = call(api, method, template.format(k=clinic), sent, bearer, query)
            named = expected != 422 or "clinic_id" in response.json().get("fields", {})
            if response.status_code != expected or not named:
                wrong.append(f"{method} {template} {clinic} query={query} body={sent}: "
                             f"{response.status_code} (expected {expected}) "
                             f"{response.text[:120]}")
    assert not wrong, "\n".join(wrong)
