"""The reassessment cadence with days as well as sessions, client overrides, the
periodic check (called with a chosen "now"), late and duplicate deliveries, and
the clinic's list of reassessments due and overdue."""
import threading
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from services.scheduling.domain import cadence as rules
from services.scheduling.service import Service as Scheduling
from shared.timeutil import utc_now
from tests.integration.test_scheduling_service import (
    assessment, consumed, redeliver, register, session, stored,
)
from tests.support import RunningService, token

pytestmark = pytest.mark.integration

ADMIN = token(role="admin")


@pytest.fixture
def scheduling(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def set_client_policy(running, client_id, **policy):
    response = running.api.put(f"/clients/{client_id}/reassessment-policy", policy)
    assert response.status_code == 200, response.text
    return response.json()


def dues(running, client_id=None):
    return [e for e in stored(running, "ReassessmentDue")
            if client_id in (None, e.data["client_id"])]


def test_a_client_policy_overrides_the_clinics_and_can_be_cleared(scheduling):
    api = scheduling.api
    client_id = register(scheduling)
    assert api.get(f"/clients/{client_id}/reassessment-policy").json() == {
        "client_id": client_id, "every_sessions": 4, "every_days": None, "source": "default"}
    assert api.put(f"/clients/{client_id}/reassessment-policy", {"every_sessions": 1},
                   bearer=token(role="front_desk")).status_code == 403
    response = api.put(f"/clients/{client_id}/reassessment-policy", {"every_days": 0})
    assert response.status_code == 422 and "every_days" in response.json()["fields"]
    assert set_client_policy(scheduling, client_id, every_sessions=1)["source"] == "client"
    session(scheduling, client_id)
    (due,) = dues(scheduling, client_id)
    assert due.data["sessions_since_assessment"] == 1 and due.data["due_by"] == "sessions"

    other = register(scheduling)
    api.put("/clinics/clinic-1/reassessment-policy", {"every_sessions": 3}, bearer=ADMIN)
    set_client_policy(scheduling, other, every_sessions=10)
    assert set_client_policy(scheduling, other, every_sessions=None, every_days=None) == {
        "client_id": other, "every_sessions": 3, "every_days": None, "source": "clinic"}
    for _ in range(3):
        session(scheduling, other)
    assert len(dues(scheduling, other)) == 1
    assert api.get(f"/clients/{other}/reassessment-policy",
                   bearer=token(org="org-2", clinics=["*"])).status_code == 404


def test_due_by_time_alone_through_the_periodic_check(scheduling):
    app = scheduling.application
    client_id = register(scheduling)
    set_client_policy(scheduling, client_id, every_days=30)
    now = utc_now()
    first = assessment(client_id, now - timedelta(days=10))
    consumed(scheduling, first)
    assert dues(scheduling, client_id) == []

    assert app.check_reassessments_due(now) == []
    assert app.check_reassessments_due(now + timedelta(days=19)) == []
    (due,) = app.check_reassessments_due(now + timedelta(days=21))
    assert due.data["due_by"] == "days"
    assert due.data["last_assessment_id"] == first.data["assessment_id"]
    assert due.id == rules.reassessment_event_id(client_id, first.data["assessment_id"])
    assert due.causationid is None and due.correlationid
    # Checked again, later, or twice at once: the cycle is flagged once.
    assert app.check_reassessments_due(now + timedelta(days=21)) == []
    assert app.check_reassessments_due(now + timedelta(days=90)) == []
    assert len(dues(scheduling, client_id)) == 1

    # A newer assessment opens a new cycle, due 30 days after it.
    second = assessment(client_id, now + timedelta(days=25), sequence=3)
    consumed(scheduling, second)
    assert app.check_reassessments_due(now + timedelta(days=50)) == []
    (again,) = app.check_reassessments_due(now + timedelta(days=56))
    assert again.data["last_assessment_id"] == second.data["assessment_id"]
    assert again.data["due_at"] == (now + timedelta(days=55)).isoformat().replace(
        "+00:00", "Z")


def test_late_and_duplicate_deliveries_flag_a_cycle_once(scheduling):
    app = scheduling.application
    client_id = register(scheduling)
    set_client_policy(scheduling, client_id, every_days=30, every_sessions=6)
    now = utc_now()

    # An assessment 40 days old arrives late: due on arrival, by days.
    old = assessment(client_id, now - timedelta(days=40))
    consumed(scheduling, old)
    (due,) = dues(scheduling, client_id)
    assert due.data["due_by"] == "days" and due.causationid == old.id
    redeliver(scheduling, old)
    assert app.check_reassessments_due(now) == []
    assert len(dues(scheduling, client_id)) == 1

    # An even older one arriving now leaves the current cycle alone; its own cycle
    # (closed by the 40-day one) is flagged as it would have been had it arrived in
    # order. A newer one starts a cycle that is not yet due (10 days old).
    older = assessment(client_id, now - timedelta(days=100), sequence=3)
    consumed(scheduling, older)
    assert [d.data["last_assessment_id"] for d in dues(scheduling, client_id)] == \
        [old.data["assessment_id"], older.data["assessment_id"]]
    newer = assessment(client_id, now - timedelta(days=10), sequence=4)
    consumed(scheduling, newer)
    assert len(dues(scheduling, client_id)) == 2
    state = scheduling.api.get(f"/clients/{client_id}/appointments").json()["reassessment"]
    assert state["last_assessment_id"] == newer.data["assessment_id"] and not state["due"]

    # Sessions, the timer and the check racing each other: still one per cycle.
    for _ in range(5):
        session(scheduling, client_id)
    later = now + timedelta(days=25)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        app.check_reassessments_due(later))) for _ in range(3)]
    for thread in threads:
        thread.start()
    session(scheduling, client_id)  # the sixth: due by sessions as well
    for thread in threads:
        thread.join()
    assert len(dues(scheduling, client_id)) == 3
    assert dues(scheduling, client_id)[2].data["last_assessment_id"] == \
        newer.data["assessment_id"]
    assert sum(len(r) for r in results) <= 1


def test_the_clinic_sees_reassessments_due_and_overdue(scheduling):
    api = scheduling.api
    app = scheduling.application
    api.put("/clinics/clinic-1/reassessment-policy", {"every_sessions": 2, "every_days": 60},
            bearer=ADMIN)
    now = utc_now()
    waiting_long, waiting_short, done = register(scheduling), register(scheduling), \
        register(scheduling)
    consumed(scheduling, assessment(waiting_long, now - timedelta(days=90)))
    for client_id in (waiting_short, done):
        for _ in range(2):
            session(scheduling, client_id)
    consumed(scheduling, assessment(done, utc_now()))
    assert {e.data["client_id"] for e in dues(scheduling)} == {waiting_long, waiting_short,
                                                              done}

    listing = api.get("/clinics/clinic-1/reassessments").json()
    assert [d["client_id"] for d in listing["due"]] == [waiting_short]
    assert [d["client_id"] for d in listing["overdue"]] == [waiting_long]
    overdue = listing["overdue"][0]
    assert overdue["due_by"] == "days" and overdue["days_waiting"] == 30
    assert listing["due"][0]["sessions_since_assessment"] == 2
    strict = api.get("/clinics/clinic-1/reassessments",
                     params={"overdue_after_days": 0}).json()
    assert {d["client_id"] for d in strict["overdue"]} == {waiting_long, waiting_short}
    assert api.get("/clinics/clinic-2/reassessments").status_code == 403
    assert api.get("/clinics/clinic-1/reassessments",
                   bearer=token(role="billing")).status_code == 403

    assert app.refresh_gauges() == {("org-1", "clinic-1"): 1}
    assert REGISTRY.get_sample_value("praxis_reassessments_overdue", {
        "service": "scheduling", "organisation": "org-1", "clinic": "clinic-1"}) == 1
    metrics = api.get("/metrics", bearer="").text
    assert 'praxis_reassessments_overdue{clinic="clinic-1",organisation="org-1",' \
           'service="scheduling"} 1.0' in metrics
