"""The journey of issue 2 across four real processes over HTTP and RabbitMQ:
register -> PHQ-9 -> goal -> four sessions held -> ReassessmentDue in intake ->
reassessment -> four charges in billing -> the chart shows it all -> a duplicated
event changes nothing -> read models rebuild to the same answers."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from shared.envelope import Event
from tests.support import publish_event, token, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


def metric(api, name, **labels):
    for family in text_string_to_metric_families(api.get("/metrics", bearer="").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def until_created(call, message):
    """POST until the service has seen the events it needs (it answers 4xx until then)."""
    responses = []

    def attempt():
        response = call()
        responses.append(response)
        return response if response.status_code in (200, 201) else None
    try:
        return wait_until(attempt, timeout=20, interval=0.1, message=message)
    except AssertionError:
        raise AssertionError(f"{message}: last answer {responses[-1].status_code} "
                             f"{responses[-1].text}")


def test_journey(praxis):
    intake, scheduling = praxis.api("intake"), praxis.api("scheduling")
    notes, billing = praxis.api("notes"), praxis.api("billing")

    prices = {"90832": 9000, "90834": 12000, "90837": 16000}
    response = billing.put(f"/clinics/{CLINIC}/fee-schedule",
                           {"currency": "USD", "prices": prices})
    assert response.status_code in (200, 201), response.text

    response = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
        "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"}})
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]

    baseline = intake.post(f"/clients/{client_id}/assessments",
                           {"instrument": "PHQ-9", "answers": [2, 2, 2, 2, 2, 2, 1, 1, 0]})
    assert baseline.status_code == 201 and baseline.json()["kind"] == "initial"

    goal = until_created(lambda: notes.post(f"/clients/{client_id}/goals", {
        "description": "Sleep through the night at least five nights a week",
        "target_date": "2027-03-01", "instrument": "PHQ-9", "target_score": 4}),
        "notes to know the client")

    start = datetime.now(timezone.utc) - timedelta(days=30)
    minutes = [50, 45, 30, 60]
    expected_codes = ["90834", "90834", "90832", "90837"]
    for number, spent in enumerate(minutes):
        if number == 3:
            praxis.stop("billing")  # billing is down while the fourth session is held
        booked = until_created(lambda: scheduling.post("/appointments", {
            "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
            "clinician_id": "clinician-1", "duration_minutes": 50, "modality": "in_person",
            "start": (start + timedelta(days=7 * number)).isoformat()}),
            "scheduling to know the client")
        appointment_id = booked.json()["appointment_id"]
        held = scheduling.post(f"/appointments/{appointment_id}/held", {"minutes": spent},
                               headers={"X-Correlation-Id": f"journey-held-{number}"})
        assert held.status_code == 201, held.text
        assert held.headers["X-Correlation-Id"] == f"journey-held-{number}"
        assert held.json()["session_number"] == number + 1

    # ReassessmentDue reaches intake's pending list.
    pending = wait_until(lambda: intake.get(f"/clinics/{CLINIC}/reassessments/pending")
                         .json()["pending"], timeout=20, message="reassessment pending")
    assert [p["client_id"] for p in pending] == [client_id]
    assert pending[0]["last_assessment_id"] == baseline.json()["assessment_id"]

    again = intake.post(f"/clients/{client_id}/assessments",
                        {"instrument": "PHQ-9", "answers": [1, 0, 1, 0, 1, 0, 0, 0, 0]})
    assert again.status_code == 201 and again.json()["kind"] == "reassessment"
    assert intake.get(f"/clinics/{CLINIC}/reassessments/pending").json()["pending"] == []

    # Billing comes back and catches up: four charges, codes from the minutes.
    praxis.start("billing")
    billing = praxis.api("billing")
    balance = wait_until(lambda: (b := billing.get(f"/clients/{client_id}/balance")).status_code
                         == 200 and len(b.json()["charges"]) == 4 and b.json(),
                         timeout=30, message="four charges")
    assert sorted(c["code"] for c in balance["charges"]) == sorted(expected_codes)
    assert balance["balance_minor"] == sum(prices[code] for code in expected_codes)

    # The chart shows the goal, both assessments and the four sessions.
    def chart_complete():
        chart = notes.get(f"/clients/{client_id}/chart").json()
        return (len(chart.get("assessments", [])) == 2 and len(chart.get("sessions", [])) == 4
                and chart)
    chart = wait_until(chart_complete, timeout=20, message="chart complete")
    assert [g["goal_id"] for g in chart["goals"]] == [goal.json()["goal_id"]]
    assert [a["kind"] for a in chart["assessments"]] == ["initial", "reassessment"]
    assert sorted(s["minutes"] for s in chart["sessions"]) == sorted(minutes)

    # Exactly one ReassessmentDue in scheduling's stream of events.
    feed = scheduling.get("/events", params={"limit": 1000}).json()["events"]
    assert [e["event"]["type"] for e in feed].count(
        "praxis.scheduling.ReassessmentDue.v1") == 1

    # A duplicated SessionHeld changes nothing downstream.
    held_event = next(e["event"] for e in feed
                      if e["event"]["type"] == "praxis.scheduling.SessionHeld.v1")
    duplicates_before = {s: metric(praxis.api(s), "praxis_events_consumed_total",
                                   service=s, type="SessionHeld", outcome="duplicate")
                         for s in ("billing", "notes")}
    publish_event(praxis.env["PRAXIS_AMQP_URI"], Event.from_dict(held_event))
    for service in ("billing", "notes"):
        wait_until(lambda: metric(praxis.api(service), "praxis_events_consumed_total",
                                  service=service, type="SessionHeld", outcome="duplicate")
                   == duplicates_before[service] + 1, message=f"{service} saw the duplicate")
    assert billing.get(f"/clients/{client_id}/balance").json() == balance
    assert notes.get(f"/clients/{client_id}/chart").json() == chart

    # Read models rebuilt from each store answer exactly as the live ones did.
    before = {"intake": intake.get(f"/clients/{client_id}").json(),
              "notes": chart, "billing": balance}
    for service in ("intake", "notes", "billing", "scheduling"):
        result = praxis.cli("rebuild", service)
        assert result.returncode == 0, result.stderr
    assert intake.get(f"/clients/{client_id}").json() == before["intake"]
    assert notes.get(f"/clients/{client_id}/chart").json() == before["notes"]
    assert billing.get(f"/clients/{client_id}/balance").json() == before["billing"]

    # One correlation id follows the request that held a session through every
    # event it caused: SessionHeld in scheduling, its charge in billing.
    charges = billing.get("/events", params={"limit": 1000}).json()["events"]
    held_ids = {e["event"]["correlationid"] for e in feed
                if e["event"]["type"].endswith(".SessionHeld.v1")}
    charge_ids = {e["event"]["correlationid"] for e in charges
                  if ".ChargeRecorded." in e["event"]["type"]}
    assert held_ids == {f"journey-held-{n}" for n in range(4)}
    assert held_ids <= charge_ids

    # Logs are JSON lines carrying that id, and never the client's name.
    for service in ("intake", "scheduling", "notes", "billing"):
        log = (praxis.log_dir / f"{service}.log").read_text()
        assert "Ada Lovelace" not in log and "Lovelace" not in log
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert lines and all({"time", "level", "service", "message"} <= set(line)
                             for line in lines)
    handled = [json.loads(line) for line in
               (praxis.log_dir / "billing.log").read_text().splitlines()
               if line.startswith("{") and "journey-held-" in line]
    assert any(line.get("event_type") == "praxis.scheduling.SessionHeld.v1"
               and line.get("event_id") for line in handled)

    # Nothing was dead-lettered and every outbox drained.
    for service in ("intake", "scheduling", "notes", "billing"):
        api = praxis.api(service)
        assert metric(api, "praxis_events_dead_lettered_total") == 0
        wait_until(lambda: metric(api, "praxis_outbox_backlog_events", service=service) == 0,
                   message=f"{service} outbox drained")

    # The audit trail: one row per request, so one per read of the client made
    # here (each under its own correlation id), the held sessions' rows with
    # their events, ids only, every chain intact, and a tampered row caught.
    reads = {"intake": f"/clients/{client_id}", "notes": f"/clients/{client_id}/chart",
             "billing": f"/clients/{client_id}/balance"}
    for service, path in reads.items():
        for n in range(2):
            response = praxis.api(service).get(
                path, headers={"X-Correlation-Id": f"journey-read-{service}-{n}"})
            assert response.status_code == 200, response.text
    officer = token(role="privacy_officer", clinics=["*"], user="officer-1")
    report = praxis.cli("audit-report", "--client-id", client_id, "--token", officer)
    assert report.returncode == 0, report.stderr
    rows = json.loads(report.stdout)["accesses"]
    assert {r["service"] for r in rows} == {"intake", "scheduling", "notes", "billing"}
    assert [r["recorded_at"] for r in rows] == sorted(r["recorded_at"] for r in rows)
    for service in reads:
        for n in range(2):
            (row,) = [r for r in rows if r["correlation_id"] == f"journey-read-{service}-{n}"]
            assert (row["service"], row["action"], row["outcome"], row["user_id"]) == (
                service, "read", "allowed", "user-1")
    for n in range(4):
        (row,) = [r for r in rows if r["correlation_id"] == f"journey-held-{n}"]
        assert (row["service"], row["action"], row["outcome"]) == (
            "scheduling", "change", "allowed")
    assert "Lovelace" not in report.stdout and "example.org" not in report.stdout
    exported = praxis.cli("audit-report", "--client-id", client_id, "--format", "csv",
                          "--token", officer)
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == len(rows) + 1

    verified = praxis.cli("audit-verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("chain intact") == 4
    engine = create_engine(praxis.env["PRAXIS_NOTES_DATABASE_URL"])
    with engine.begin() as conn:
        seq = conn.execute(text("UPDATE audit_trail SET user_id = 'someone-else' "
                                "WHERE correlation_id = 'journey-read-notes-0' RETURNING seq")
                           ).scalar_one()
    engine.dispose()
    verified = praxis.cli("audit-verify")
    assert verified.returncode == 1 and f"notes: row {seq}: " in verified.stdout
    assert verified.stdout.count("chain intact") == 3
