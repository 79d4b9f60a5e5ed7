"""Intake over HTTP and RabbitMQ on SQLite and PostgreSQL: registration details,
consents, episodes, instruments as data, change against the baseline, risk,
not on track, pending reassessments, trajectory, chart and clinic outcomes."""
import uuid

import pytest

from services.intake.service import Service as Intake
from shared.projection import rebuild
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

# The default token's clinician (tests.support.token) is the primary clinician.
CLIENT = {"organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada Lovelace",
          "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"},
          "primary_clinician_id": "user-1"}
ADMIN = token(role="admin", clinics=["*"])
WELLBEING = {
    "code": "WB-4", "name": "Wellbeing check (test scale)",
    "items": ["Individually", "Interpersonally", "Socially", "Overall"],
    "lowest": 0, "highest": 10, "higher_is_worse": False,
    "bands": [{"low": 0, "high": 24, "label": "clinical"},
              {"low": 25, "high": 40, "label": "non-clinical"}],
    "cut_off": 25, "sd": 8.0, "reliability": 0.8}


@pytest.fixture
def intake(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def register(api, **extra):
    response = api.post("/clients", {**CLIENT, **extra})
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


def assess(api, client_id, answers, instrument="PHQ-9", status=201, **extra):
    response = api.post(f"/clients/{client_id}/assessments",
                        {"instrument": instrument, "answers": answers, **extra})
    assert response.status_code == status, response.text
    return response.json()


def names(intake, client_id=None):
    return [e.name for _, e in intake.application.store.read_all()
            if client_id is None or e.subject == f"client-{client_id}"]


def test_registration_details_updates_and_consents(intake):
    api = intake.api
    minor = api.post("/clients", {**CLIENT, "date_of_birth": "2014-05-01"})
    assert minor.status_code == 422 and list(minor.json()["fields"]) == ["guardian"]
    insurer = api.post("/clients", {**CLIENT, "payer": {"kind": "insurer", "insurer_name": "X"}})
    assert insurer.status_code == 422 and "payer.member_id" in insurer.json()["fields"]
    assert names(intake) == []

    client_id = register(
        api, name="Augusta Ada King", preferred_name="Ada", pronouns="she/her",
        date_of_birth="2012-12-10",
        contact={"email": "ada@example.org", "phone": "+44 20 7946 0000", "email_ok": True,
                 "text_ok": True, "voicemail_ok": False},
        guardian={"name": "Anne Isabella Byron", "relationship": "mother",
                  "phone": "+44 20 7946 0001"},
        referral_source="GP", primary_clinician_id="user-1",
        payer={"kind": "insurer", "insurer_name": "Aetna", "member_id": "W123"})
    record = api.get(f"/clients/{client_id}").json()
    assert record["preferred_name"] == "Ada" and record["guardian"]["relationship"] == "mother"
    assert record["contact"]["text_ok"] is True and record["contact"]["voicemail_ok"] is False
    assert record["payer"] == {"kind": "insurer", "insurer_name": "Aetna", "member_id": "W123"}
    assert record["episode_status"] == "open" and record["episode"]["status"] == "open"

    found = api.get("/clients", params={"clinic_id": "clinic-1", "name": "ada"}).json()
    assert [c["client_id"] for c in found["clients"]] == [client_id] and found["total"] == 1

    updated = api.request("PATCH", f"/clients/{client_id}",
                          json={"pronouns": "they/them", "contact": {"voicemail_ok": True}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["pronouns"] == "they/them"
    assert updated.json()["contact"]["voicemail_ok"] is True
    assert updated.json()["contact"]["email"] == "ada@example.org"
    removed = api.request("PATCH", f"/clients/{client_id}", json={"guardian": None})
    assert removed.status_code == 422 and "guardian" in removed.json()["fields"]
    same = api.request("PATCH", f"/clients/{client_id}", json={"pronouns": "they/them"})
    assert same.status_code == 200
    assert names(intake, client_id) == ["ClientRegistered", "EpisodeOpened",
                                        "ClientDetailsUpdated"]
    (_, changed), = [(p, e) for p, e in intake.application.store.read_all()
                     if e.name == "ClientDetailsUpdated"]
    assert set(changed.data["changes"]) == {"pronouns", "contact"}

    given = api.post(f"/clients/{client_id}/consents",
                     {"kind": "cancellation_policy", "document_version": "2026-01"})
    assert given.status_code == 201, given.text
    api.post(f"/clients/{client_id}/consents", {"kind": "telehealth", "document_version": "v3"})
    again = api.post(f"/clients/{client_id}/consents",
                     {"kind": "cancellation_policy", "document_version": "2026-01"})
    assert again.status_code == 409
    bad = api.post(f"/clients/{client_id}/consents", {"kind": "marketing",
                                                      "document_version": "1"})
    assert bad.status_code == 422 and "kind" in bad.json()["fields"]
    revoked = api.post(f"/clients/{client_id}/consents/telehealth/revoke", {})
    assert revoked.status_code == 200, revoked.text
    state = {c["kind"]: c for c in revoked.json()["consents"]}
    assert state["cancellation_policy"]["status"] == "given"
    assert state["cancellation_policy"]["document_version"] == "2026-01"
    assert state["telehealth"]["status"] == "revoked"
    assert [h["action"] for h in revoked.json()["history"]] == ["given", "given", "revoked"]
    assert api.post(f"/clients/{client_id}/consents/telehealth/revoke", {}).status_code == 409


def test_a_client_needs_a_way_to_be_reached(intake):
    api = intake.api
    nowhere = {k: v for k, v in CLIENT.items() if k != "contact"}
    for body in (nowhere, {**nowhere, "contact": {"email": None, "phone": None}},
                 {**nowhere, "contact": {"phone": ""}}):
        refused = api.post("/clients", body)
        assert refused.status_code == 422, refused.text
        assert list(refused.json()["fields"]) == ["contact"]
    too_long = api.post("/clients", {**nowhere, "no_contact_reason": "x" * 501})
    assert too_long.status_code == 422 and list(too_long.json()["fields"]) == [
        "no_contact_reason"]
    assert names(intake) == []

    reason = "No fixed abode; reached through the shelter's key worker"
    client_id = register(api, contact={}, no_contact_reason=reason)
    assert api.get(f"/clients/{client_id}").json()["no_contact_reason"] == reason
    phoned = register(api, contact={"phone": "+44 20 7946 0000"})
    removed = api.request("PATCH", f"/clients/{phoned}", json={"contact": {"phone": None}})
    assert removed.status_code == 422 and list(removed.json()["fields"]) == ["contact"]
    explained = api.request("PATCH", f"/clients/{phoned}", json={
        "contact": {"phone": None}, "no_contact_reason": "Asked not to be contacted"})
    assert explained.status_code == 200, explained.text
    assert explained.json()["contact"]["phone"] is None
    unexplained = api.request("PATCH", f"/clients/{phoned}", json={"no_contact_reason": None})
    assert unexplained.status_code == 422 and "contact" in unexplained.json()["fields"]


def test_change_against_baseline_risk_flag_trajectory_chart_and_summary(intake):
    api = intake.api
    client_id = register(api)
    baseline = assess(api, client_id, [2, 2, 2, 2, 2, 2, 1, 1, 1],  # 15, item 9 answered 1
                      assessed_at="2026-01-10T10:00:00Z")
    assert baseline["kind"] == "initial" and baseline["change"] is None
    assert [r["event"] for r in baseline["raised"]] == ["RiskFlagRaised"]
    # The flag is appended with the assessment, in one unit of work.
    events = [e for _, e in intake.application.store.read_all()
              if e.subject == f"client-{client_id}"]
    assert [e.name for e in events][-2:] == ["ClientAssessed", "RiskFlagRaised"]
    assert events[-1].correlationid == events[-2].correlationid

    flags = api.get("/clinics/clinic-1/risk-flags").json()["risk_flags"]
    assert [(f["client_id"], f["item"], f["status"]) for f in flags] == [(client_id, 9, "open")]
    flag_id = flags[0]["flag_id"]
    assert api.get("/clinics/clinic-1/risk-flags",
                   bearer=token(role="front_desk")).status_code == 403
    assert api.get("/clinics/clinic-2/risk-flags").status_code == 403
    assert intake.application.refresh_gauges() == {("org-1", "clinic-1"): 1}
    assert 'praxis_risk_flags_open{clinic="clinic-1",organisation="org-1",service="intake"} 1.0' \
        in api.get("/metrics", bearer="").text
    bad = api.post(f"/clients/{client_id}/risk-flags/{flag_id}/acknowledge", {})
    assert bad.status_code == 422 and "action_taken" in bad.json()["fields"]
    # Another clinician of the client's care team acknowledges it.
    assert api.post(f"/clients/{client_id}/care-team", {"clinician_id": "dr-who"},
                    bearer=ADMIN).status_code == 201
    ack = api.post(f"/clients/{client_id}/risk-flags/{flag_id}/acknowledge",
                   {"action_taken": "Safety plan reviewed with the client; GP informed"},
                   bearer=token(user="dr-who"))
    assert ack.status_code == 200, ack.text
    assert api.get("/clinics/clinic-1/risk-flags").json()["risk_flags"] == []
    assert intake.application.refresh_gauges() == {("org-1", "clinic-1"): 0}  # 0, not no data
    (done,) = api.get("/clinics/clinic-1/risk-flags",
                      params={"status": "acknowledged"}).json()["risk_flags"]
    assert done["acknowledged_by"] == "dr-who" and done["action_taken"].startswith("Safety")
    assert done["acknowledged_at"] is not None
    assert api.post(f"/clients/{client_id}/risk-flags/{flag_id}/acknowledge",
                    {"action_taken": "again"}).status_code == 409

    missing = api.post(f"/clients/{client_id}/assessments",
                       {"instrument": "PHQ-9", "answers": [1, 1, 1, 1, 1, 1, 1, 1]})
    assert missing.status_code == 422 and missing.json()["fields"] == {
        "answers.9": ["missing: item 9 needs an answer 0-3"]}

    # 15 -> 10: -5 is not reliable (6 points needed).
    second = assess(api, client_id, [2, 2, 1, 1, 1, 1, 1, 1, 0],
                    assessed_at="2026-02-10T10:00:00Z")
    assert second["kind"] == "reassessment" and second["change"]["category"] == \
        "no_reliable_change" and second["change"]["difference"] == -5
    # 15 -> 3: reliable, and out of the clinical range: recovered, response and remission.
    third = assess(api, client_id, [1, 1, 1, 0, 0, 0, 0, 0, 0],
                   assessed_at="2026-03-10T10:00:00Z")
    assert third["change"] == {
        "baseline_assessment_id": baseline["assessment_id"], "baseline_total": 15,
        "difference": -12, "rci": -3.922, "category": "recovered", "response": True,
        "remission": True}
    assert third["raised"] == []
    # GAD-7 14 -> 18: reliably worse: an alert, and not on track (default rule).
    assess(api, client_id, [2] * 7, instrument="GAD-7", assessed_at="2026-01-10T10:30:00Z")
    worse = assess(api, client_id, [3, 3, 3, 3, 2, 2, 2], instrument="GAD-7",
                   assessed_at="2026-03-10T10:30:00Z")
    assert [r["event"] for r in worse["raised"]] == ["ReliableDeteriorationDetected",
                                                     "NotOnTrackFlagged"]
    alerts = api.get("/clinics/clinic-1/alerts").json()["alerts"]
    assert [(a["kind"], a["instrument"]) for a in alerts] == [
        ("reliable_deterioration", "GAD-7"), ("not_on_track", "GAD-7")]
    assert alerts[1]["rule"] == "reliable_deterioration"

    trajectory = api.get(f"/clients/{client_id}/outcomes").json()
    courses = {c["instrument"]: c for c in trajectory["instruments"]}
    assert [p["total"] for p in courses["PHQ-9"]["points"]] == [15, 10, 3]
    assert [p["category"] for p in courses["PHQ-9"]["points"]] == [
        None, "no_reliable_change", "recovered"]
    assert [p["severity"] for p in courses["PHQ-9"]["points"]] == [
        "moderately severe", "moderate", "minimal"]
    assert courses["PHQ-9"]["cut_off"] == 10 and courses["PHQ-9"][
        "reliable_change_threshold"] == 6
    assert courses["GAD-7"]["latest_category"] == "reliably_deteriorated"
    assert api.get(f"/clients/{client_id}/outcomes",
                   bearer=token(role="front_desk")).status_code == 403
    assert api.get(f"/clients/{client_id}/outcomes",
                   bearer=token(org="org-2", clinics=["*"])).status_code == 404

    svg = api.get(f"/clients/{client_id}/outcomes/PHQ-9/chart")
    assert svg.status_code == 200 and svg.headers["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content[:400] and b"clinical cut-off 10" in svg.content
    png = api.get(f"/clients/{client_id}/outcomes/GAD-7/chart", params={"format": "png"})
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert api.get(f"/clients/{client_id}/outcomes/WB-4/chart").status_code == 404

    summary = api.get("/clinics/clinic-1/outcomes").json()
    assert (summary["clients_assessed"], summary["measured"], summary["reliably_improved"],
            summary["recovered"], summary["reliably_deteriorated"]) == (1, 2, 1, 1, 1)
    assert summary["recovery_rate"] == 0.5 and summary["deterioration_rate"] == 0.5
    assert summary["by_instrument"]["PHQ-9"]["recovered"] == 1
    assert (summary["open_risk_flags"], summary["risk_flags_raised"]) == (0, 1)
    early = api.get("/clinics/clinic-1/outcomes", params={"to": "2026-02-28"}).json()
    assert (early["measured"], early["reliably_improved"], early["risk_flags_raised"]) == \
        (1, 0, 1)
    late = api.get("/clinics/clinic-1/outcomes", params={"from": "2026-03-01"}).json()
    assert (late["clients_assessed"], late["measured"], late["risk_flags_raised"]) == (1, 2, 0)
    assert api.get("/clinics/clinic-1/outcomes", params={"from": "March"}).status_code == 422

    # Every read model is a function of the events: a rebuild gives the same rows.
    store = intake.application.store
    with store.read() as conn:
        before = store.projection.snapshot(conn)
    rebuild(store)
    with store.read() as conn:
        assert store.projection.snapshot(conn) == before


def test_an_organisations_own_instrument(intake):
    api = intake.api
    assert api.post("/instruments", WELLBEING).status_code == 403  # a clinician
    assert api.post("/instruments", WELLBEING,
                    bearer=token(role="admin")).status_code == 403  # not every clinic
    bad = api.post("/instruments", {**WELLBEING, "cut_off": 99}, bearer=ADMIN)
    assert bad.status_code == 422 and list(bad.json()["fields"]) == ["cut_off"]
    missing = api.post("/instruments", {k: v for k, v in WELLBEING.items() if k != "sd"},
                       bearer=ADMIN)
    assert missing.status_code == 422 and "sd" in missing.json()["fields"]
    defined = api.post("/instruments", WELLBEING, bearer=ADMIN)
    assert defined.status_code == 201, defined.text
    assert defined.json()["version"] == 1 and defined.json()["reliable_change_threshold"] == 10
    codes = [i["code"] for i in api.get("/instruments").json()["instruments"]]
    assert codes == ["GAD-7", "PHQ-9", "WB-4"]
    assert api.get("/instruments/WB-4", bearer=token(org="org-2")).status_code == 404

    client_id = register(api)
    out_of_range = api.post(f"/clients/{client_id}/assessments",
                            {"instrument": "WB-4", "answers": [5, 11, 5, 5]})
    assert out_of_range.status_code == 422
    assert out_of_range.json()["fields"] == {"answers.2": ["must be an integer 0-10"]}
    first = assess(api, client_id, [4, 5, 5, 4], instrument="WB-4")
    assert (first["total"], first["severity"], first["instrument_version"]) == \
        (18, "clinical", 1)
    later = assess(api, client_id, [8, 8, 7, 8], instrument="WB-4")  # higher is better
    assert later["change"]["category"] == "recovered" and later["change"]["difference"] == 13
    # Another organisation does not have it.
    other = api.post("/clients", {**CLIENT, "organisation_id": "org-2"},
                     bearer=token(org="org-2"))
    assert api.post(f"/clients/{other.json()['client_id']}/assessments",
                    {"instrument": "WB-4", "answers": [1, 1, 1, 1]},
                    bearer=token(org="org-2")).status_code == 422

    # A new version of PHQ-9 with the organisation's own SD and r.
    phq9 = api.get("/instruments/PHQ-9").json()
    definition = {k: phq9[k] for k in ("code", "name", "items", "lowest", "highest", "bands",
                                       "cut_off", "response_drop_percent", "remission_below",
                                       "risk_items")}
    v2 = api.post("/instruments", {**definition, "sd": 5.5, "reliability": 0.84}, bearer=ADMIN)
    assert v2.status_code == 201, v2.text
    assert (v2.json()["version"], v2.json()["reliable_change_threshold"]) == (2, 7)
    assert v2.json()["versions"] == [1, 2]
    scored = assess(api, client_id, [2] * 9)
    assert scored["instrument_version"] == 2


def test_reassessment_due_and_the_session_limit(intake):
    api = intake.api
    client_id = register(api)
    phq = assess(api, client_id, [2] * 9)
    gad = assess(api, client_id, [2] * 7, instrument="GAD-7")
    due = make_event("scheduling", "ReassessmentDue", {
        "client_id": client_id, "sessions_since_assessment": 4,
        "last_assessment_id": gad["assessment_id"], "reason": "every 4 sessions",
        "due_at": "2026-03-01T09:00:00Z"}, subject=f"reassessment-{client_id}")
    publish_event(intake.amqp_uri, due)
    pending = wait_until(lambda: api.get("/clinics/clinic-1/reassessments/pending")
                         .json()["pending"], message="pending reassessments")
    assert [(p["client_id"], p["instrument"]) for p in pending] == [
        (client_id, "GAD-7"), (client_id, "PHQ-9")]
    # Each row points at its own instrument's latest assessment, not the client's latest.
    assert pending[0]["last_assessment_id"] == gad["assessment_id"]
    assert pending[1]["last_assessment_id"] == phq["assessment_id"]
    assess(api, client_id, [1] * 9)
    pending = api.get("/clinics/clinic-1/reassessments/pending").json()["pending"]
    assert [p["instrument"] for p in pending] == ["GAD-7"]
    assert phq["kind"] == "initial"

    by_sessions = {"reassessments_without_improvement": None, "sessions_without_improvement": 3,
                   "on_reliable_deterioration": True}
    rule = api.put("/clinics/clinic-1/not-on-track-rule", by_sessions, bearer=ADMIN)
    assert rule.status_code == 200, rule.text
    assert rule.json()["sessions_without_improvement"] == 3 and rule.json()["default"] is False
    assert api.put("/clinics/clinic-1/not-on-track-rule", {
        "reassessments_without_improvement": 0, "sessions_without_improvement": None,
        "on_reliable_deterioration": True}, bearer=ADMIN).status_code == 422
    assert api.put("/clinics/clinic-1/not-on-track-rule", by_sessions).status_code == 403

    def held(number):
        appointment_id = str(uuid.uuid4())
        return make_event("scheduling", "SessionHeld", {
            "appointment_id": appointment_id, "client_id": client_id,
            "clinician_id": "clinician-1", "start": "2026-03-01T10:00:00Z", "minutes": 50,
            "modality": "video", "session_type": "individual", "place_of_service": "office",
            "audio_only": False, "session_number": number},
            subject=f"appointment-{appointment_id}", sequence=2)

    publish_event(intake.amqp_uri, held(2))
    third = held(3)
    publish_event(intake.amqp_uri, third)
    alerts = wait_until(lambda: api.get("/clinics/clinic-1/alerts").json()["alerts"],
                        message="not-on-track flag")
    # PHQ-9 went 18 -> 9, a recovery; GAD-7 has only its baseline.
    assert [(a["kind"], a["instrument"], a["rule"]) for a in alerts] == [
        ("not_on_track", "GAD-7", "sessions_without_improvement=3")]
    publish_event(intake.amqp_uri, third)  # a duplicate delivery
    publish_event(intake.amqp_uri, held(4))  # flagged once per episode
    wait_until(lambda: names(intake).count("SessionHeld") == 3, message="sessions recorded")
    assert len(api.get("/clinics/clinic-1/alerts").json()["alerts"]) == 1


def test_pending_reassessments_point_at_each_instruments_latest_in_the_episode(intake):
    api = intake.api
    client_id = register(api)
    assess(api, client_id, [2] * 9)
    assess(api, client_id, [2] * 7, instrument="GAD-7")
    api.post(f"/clients/{client_id}/discharge", {"reason": "planned_ending"})
    api.post(f"/clients/{client_id}/episodes", {})
    assert api.get(f"/clients/{client_id}").json()["episode_status"] == "open"
    assess(api, client_id, [3] * 9)
    second = assess(api, client_id, [2] * 9)
    wb = assess(api, client_id, [1] * 7, instrument="GAD-7")
    due = make_event("scheduling", "ReassessmentDue", {
        "client_id": client_id, "sessions_since_assessment": 4,
        "last_assessment_id": wb["assessment_id"], "reason": "every 4 sessions",
        "due_at": "2026-03-01T09:00:00Z"}, subject=f"reassessment-{client_id}")
    publish_event(intake.amqp_uri, due)
    pending = wait_until(lambda: api.get("/clinics/clinic-1/reassessments/pending")
                         .json()["pending"], message="pending reassessments")
    # PHQ-9's row: its second assessment of this episode, not the later GAD-7 nor
    # the previous episode's PHQ-9.
    assert [(p["instrument"], p["last_assessment_id"]) for p in pending] == [
        ("GAD-7", wb["assessment_id"]), ("PHQ-9", second["assessment_id"])]


def test_discharge_and_a_new_episode(intake):
    api = intake.api
    client_id = register(api)
    first = assess(api, client_id, [2] * 8 + [0])
    assert api.post(f"/clients/{client_id}/discharge", {"reason": "moved"}).status_code == 422
    assert api.post(f"/clients/{client_id}/discharge", {"reason": "planned_ending"},
                    bearer=token(role="front_desk")).status_code == 403
    discharged = api.post(f"/clients/{client_id}/discharge", {"reason": "planned_ending"})
    assert discharged.status_code == 200, discharged.text
    assert discharged.json()["episode_id"] == first["episode_id"]
    assert api.post(f"/clients/{client_id}/assessments",
                    {"instrument": "PHQ-9", "answers": [0] * 9}).status_code == 409
    assert api.post(f"/clients/{client_id}/discharge",
                    {"reason": "dropped_out"}).status_code == 409
    listed = api.get("/clients", params={"clinic_id": "clinic-1", "status": "discharged"})
    assert [c["client_id"] for c in listed.json()["clients"]] == [client_id]

    opened = api.post(f"/clients/{client_id}/episodes", {})
    assert opened.status_code == 201, opened.text
    assert api.post(f"/clients/{client_id}/episodes", {}).status_code == 409
    again = assess(api, client_id, [1] * 8 + [0])
    assert again["kind"] == "initial" and again["episode_id"] == opened.json()["episode_id"]
    record = api.get(f"/clients/{client_id}").json()
    assert [e["status"] for e in record["episodes"]] == ["discharged", "open"]
    assert record["episodes"][0]["discharge_reason"] == "planned_ending"
    old = api.get(f"/clients/{client_id}/outcomes",
                  params={"episode_id": first["episode_id"]}).json()
    assert [p["total"] for p in old["instruments"][0]["points"]] == [16]
    assert names(intake, client_id) == [
        "ClientRegistered", "EpisodeOpened", "ClientAssessed", "ClientDischarged",
        "EpisodeOpened", "ClientAssessed"]
