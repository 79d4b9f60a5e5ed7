"""Measurement-based care across the four real processes: registration ->
baseline PHQ-9 -> sessions held in scheduling -> ReassessmentDue opens a
pending reassessment in intake -> reassessment (no reliable change) -> more
sessions -> second ReassessmentDue -> reassessment: recovered; and a PHQ-9
with item 9 above 0 puts the client on the clinic's risk list until a
clinician acknowledges it."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import token, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


def until_ok(call, message):
    """Call until the service has seen the events it needs (it answers 4xx until then)."""
    responses = []

    def attempt():
        response = call()
        responses.append(response)
        return response if response.status_code in (200, 201) else None
    try:
        return wait_until(attempt, timeout=30, interval=0.2, message=message)
    except AssertionError:
        raise AssertionError(f"{message}: last answer {responses[-1].status_code} "
                             f"{responses[-1].text}")


def hold_sessions(scheduling, client_id, first_day, count):
    for number in range(count):
        start = first_day + timedelta(days=7 * number)
        booked = until_ok(lambda: scheduling.post("/appointments", {
            "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
            "clinician_id": "clinician-1", "start": start.isoformat(),
            "duration_minutes": 50, "modality": "video"}), "scheduling to know the client")
        held = scheduling.post(f"/appointments/{booked.json()['appointment_id']}/held",
                               {"minutes": 50})
        assert held.status_code == 201, held.text


def pending_for(intake, client_id):
    pending = intake.get(f"/clinics/{CLINIC}/reassessments/pending").json()["pending"]
    return [p for p in pending if p["client_id"] == client_id]


def scheduling_saw(scheduling, client_id, assessment_id):
    view = scheduling.get(f"/clients/{client_id}/appointments").json()
    return view.get("reassessment", {}).get("last_assessment_id") == assessment_id


def test_from_registration_through_two_reassessments_to_recovery_and_a_risk_flag(praxis):
    intake, scheduling = praxis.api("intake"), praxis.api("scheduling")
    clinician = token(role="clinician", clinics=[CLINIC], user="dr-lind")

    registered = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Grace Hopper",
        "preferred_name": "Grace", "pronouns": "she/her", "date_of_birth": "1986-12-09",
        "contact": {"email": "grace@example.org", "email_ok": True},
        "referral_source": "self", "primary_clinician_id": "dr-lind",  # the clinician below
        "payer": {"kind": "self_pay"}})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    consent = intake.post(f"/clients/{client_id}/consents",
                          {"kind": "treatment", "document_version": "2026-01"})
    assert consent.status_code == 201, consent.text

    baseline = intake.post(f"/clients/{client_id}/assessments",
                           {"instrument": "PHQ-9", "answers": [2, 2, 2, 2, 2, 2, 1, 1, 0]})
    assert baseline.status_code == 201, baseline.text
    assert (baseline.json()["kind"], baseline.json()["total"]) == ("initial", 14)
    wait_until(lambda: scheduling_saw(scheduling, client_id, baseline.json()["assessment_id"]),
               timeout=30, message="scheduling to see the baseline")

    # Four sessions: scheduling's default cadence makes the client due.
    start = datetime.now(timezone.utc) - timedelta(days=120)
    hold_sessions(scheduling, client_id, start, 4)
    (due,) = wait_until(lambda: pending_for(intake, client_id), timeout=30,
                        message="first reassessment pending")
    assert due["instrument"] == "PHQ-9"
    assert due["last_assessment_id"] == baseline.json()["assessment_id"]

    # 14 -> 10: four points is no reliable change (six are needed).
    first = intake.post(f"/clients/{client_id}/assessments",
                        {"instrument": "PHQ-9", "answers": [2, 2, 1, 1, 1, 1, 1, 1, 0]},
                        bearer=clinician)
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "reassessment"
    assert first.json()["change"]["category"] == "no_reliable_change"
    assert pending_for(intake, client_id) == []
    wait_until(lambda: scheduling_saw(scheduling, client_id, first.json()["assessment_id"]),
               timeout=30, message="scheduling to see the first reassessment")

    hold_sessions(scheduling, client_id, start + timedelta(days=35), 4)
    (due,) = wait_until(lambda: pending_for(intake, client_id), timeout=30,
                        message="second reassessment pending")
    assert due["last_assessment_id"] == first.json()["assessment_id"]

    # 14 -> 2: reliable and below the cut-off: recovered (with response and remission).
    second = intake.post(f"/clients/{client_id}/assessments",
                         {"instrument": "PHQ-9", "answers": [1, 1, 0, 0, 0, 0, 0, 0, 0]},
                         bearer=clinician)
    assert second.status_code == 201, second.text
    assert second.json()["change"] == {
        "baseline_assessment_id": baseline.json()["assessment_id"], "baseline_total": 14,
        "difference": -12, "rci": -3.922, "category": "recovered", "response": True,
        "remission": True}
    assert pending_for(intake, client_id) == []

    trajectory = intake.get(f"/clients/{client_id}/outcomes", bearer=clinician).json()
    (phq9,) = trajectory["instruments"]
    assert [(p["total"], p["category"]) for p in phq9["points"]] == [
        (14, None), (10, "no_reliable_change"), (2, "recovered")]
    chart = intake.get(f"/clients/{client_id}/outcomes/PHQ-9/chart", bearer=clinician)
    assert chart.status_code == 200 and chart.headers["Content-Type"].startswith("image/svg")
    summary = intake.get(f"/clinics/{CLINIC}/outcomes", bearer=clinician).json()
    assert (summary["measured"], summary["recovered"], summary["recovery_rate"]) == (1, 1, 1.0)

    # The change travels with ClientAssessed to the other services' feeds.
    feed = intake.get("/events", params={"limit": 1000}).json()["events"]
    assessed = [e["event"]["data"] for e in feed
                if e["event"]["type"] == "praxis.intake.ClientAssessed.v1"]
    assert [a["change"] and a["change"]["category"] for a in assessed] == [
        None, "no_reliable_change", "recovered"]

    discharged = intake.post(f"/clients/{client_id}/discharge", {"reason": "planned_ending"},
                             bearer=clinician)
    assert discharged.status_code == 200, discharged.text

    # Item 9 above 0 raises a risk flag whatever the total.
    other = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Alan Turing",
        "date_of_birth": "1992-06-23", "contact": {"phone": "+44 161 000 0000"},
        "primary_clinician_id": "dr-lind"}).json()
    risky = intake.post(f"/clients/{other['client_id']}/assessments",
                        {"instrument": "PHQ-9", "answers": [0, 1, 0, 0, 0, 0, 0, 0, 1]},
                        bearer=clinician)
    assert risky.status_code == 201, risky.text
    assert (risky.json()["total"], risky.json()["severity"]) == (2, "minimal")
    (flag,) = intake.get(f"/clinics/{CLINIC}/risk-flags", bearer=clinician).json()["risk_flags"]
    assert (flag["client_id"], flag["item"], flag["answer"]) == (other["client_id"], 9, 1)
    assert flag["assessment_id"] == risky.json()["assessment_id"]
    acknowledged = intake.post(
        f"/clients/{other['client_id']}/risk-flags/{flag['flag_id']}/acknowledge",
        {"action_taken": "Called the client the same day; safety plan in place"},
        bearer=clinician)
    assert acknowledged.status_code == 200, acknowledged.text
    assert intake.get(f"/clinics/{CLINIC}/risk-flags", bearer=clinician).json()[
        "risk_flags"] == []
    (done,) = intake.get(f"/clinics/{CLINIC}/risk-flags", params={"status": "all"},
                         bearer=clinician).json()["risk_flags"]
    assert done["acknowledged_by"] == "dr-lind"
