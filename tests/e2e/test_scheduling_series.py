"""End to end, four real processes: a weekly series in a London clinic through a
reassessment. Intake registers the client (opening an episode) and takes the
baseline; scheduling books a weekly series on the clinic's wall clock, holds
four sessions (numbered in the episode), emits ReassessmentDue once; intake
lists it pending until the reassessment; the discharge cancels what is ahead;
the clinician's .ics feed shows the series without the client's name."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tests.support import wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC, CLINICIAN = "org-1", "clinic-1", "clinician-1"
LONDON = ZoneInfo("Europe/London")


def test_weekly_series_through_a_reassessment(praxis):
    intake, scheduling = praxis.api("intake"), praxis.api("scheduling")

    response = scheduling.put(f"/clinics/{CLINIC}", {
        "name": "Leeds", "time_zone": "Europe/London",
        "video_link_template": "https://meet.example.org/praxis-{appointment_id}"})
    assert response.status_code == 200, response.text
    response = scheduling.put(f"/clinicians/{CLINICIAN}", {
        "name": "Dr Grace Hopper", "clinic_ids": [CLINIC],
        "working_hours": [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(5)]})
    assert response.status_code == 200, response.text

    response = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": "Ada Lovelace",
        "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"}})
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    baseline = intake.post(f"/clients/{client_id}/assessments",
                           {"instrument": "PHQ-9", "answers": [2, 2, 2, 2, 2, 2, 1, 1, 0]})
    assert baseline.status_code == 201, baseline.text

    # Scheduling learns of the client and the episode intake opened.
    known = wait_until(lambda: (r := scheduling.get(f"/clients/{client_id}/appointments"))
                       .status_code == 200 and r.json()["episode_id"] and r.json(),
                       timeout=30, message="scheduling to know the client and the episode")
    episode_id = known["episode_id"]

    # A weekly series of seven, Tuesdays 10:00 London, from four weeks ago.
    today = datetime.now(LONDON).date()
    first_day = today - timedelta(days=28 + (today.weekday() - 1) % 7)
    first = datetime.combine(first_day, time(10, 0), tzinfo=LONDON)
    response = scheduling.post("/series", {
        "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
        "clinician_id": CLINICIAN, "start": first.isoformat(), "duration_minutes": 50,
        "modality": "video", "frequency": "weekly", "count": 7})
    assert response.status_code == 201, response.text
    series = response.json()
    occurrences = series["appointments"]
    assert len(occurrences) == 7
    assert {a["local_start"][11:16] for a in occurrences} == {"10:00"}
    assert all(a["video_link"].endswith(a["appointment_id"]) for a in occurrences)

    # A second booking on top of an occurrence is refused, naming it.
    clash = scheduling.post("/appointments", {
        "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
        "clinician_id": "clinician-2", "start": occurrences[5]["start"],
        "duration_minutes": 30, "modality": "phone"})
    assert clash.status_code == 409, clash.text
    assert clash.json()["conflicting_appointment_id"] == occurrences[5]["appointment_id"]

    # Four sessions held: numbered in the episode, billing details filled in.
    for number, occurrence in enumerate(occurrences[:4], start=1):
        held = scheduling.post(f"/appointments/{occurrence['appointment_id']}/held",
                               {"minutes": 50})
        assert held.status_code == 201, held.text
        assert held.json()["session_number"] == number
        assert held.json()["episode_id"] == episode_id
        assert (held.json()["place_of_service"], held.json()["audio_only"]) == \
            ("client_home", False)

    # The default cadence (every 4 sessions): due once, in scheduling and in intake.
    pending = wait_until(lambda: intake.get(f"/clinics/{CLINIC}/reassessments/pending")
                         .json()["pending"], timeout=20, message="reassessment pending")
    assert {p["client_id"] for p in pending} == {client_id}
    due = scheduling.get(f"/clinics/{CLINIC}/reassessments").json()
    assert [d["client_id"] for d in due["due"]] == [client_id] and due["overdue"] == []

    again = intake.post(f"/clients/{client_id}/assessments",
                        {"instrument": "PHQ-9", "answers": [1, 0, 1, 0, 1, 0, 0, 0, 0]})
    assert again.status_code == 201 and again.json()["kind"] == "reassessment"
    wait_until(lambda: intake.get(f"/clinics/{CLINIC}/reassessments/pending")
               .json()["pending"] == [], timeout=20, message="pending cleared")
    wait_until(lambda: scheduling.get(f"/clinics/{CLINIC}/reassessments").json()["due"] == [],
               timeout=20, message="scheduling saw the reassessment")
    cadence = scheduling.get(f"/clients/{client_id}/appointments").json()["reassessment"]
    assert cadence["sessions_since_assessment"] == 0
    assert cadence["last_assessment_id"] == again.json()["assessment_id"]
    feed = scheduling.get("/events", params={"limit": 1000}).json()["events"]
    assert [e["event"]["type"] for e in feed].count("praxis.scheduling.ReassessmentDue.v1") == 1

    # Attendance over the series so far.
    report = scheduling.get(f"/clinics/{CLINIC}/attendance", params={
        "from": first_day.isoformat(), "to": (today + timedelta(days=21)).isoformat()}).json()
    assert report["clinic"]["held"] == 4 and report["clinic"]["rates"]["held"] == 1.0

    # The clinician's calendar feed: the series, no client name.
    issued = scheduling.post(f"/clinicians/{CLINICIAN}/calendar-feeds").json()
    ics = scheduling.get(issued["path"], bearer="")
    assert ics.status_code == 200, ics.text
    # The feed's secret rides in its URL, yet the process log never names it.
    assert issued["feed_token"] not in (praxis.log_dir / "scheduling.log").read_text()
    events = Calendar.from_ical(ics.content).walk("VEVENT")
    assert {str(e["uid"]) for e in events} == {f"{a['appointment_id']}@praxis"
                                               for a in occurrences}
    assert "Ada" not in ics.text and "Lovelace" not in ics.text

    # Discharge: the occurrences still ahead are cancelled by the clinic.
    discharged = intake.post(f"/clients/{client_id}/discharge", {"reason": "planned_ending"})
    assert discharged.status_code in (200, 201), discharged.text
    ahead = [a["appointment_id"] for a in occurrences[5:]]

    def cancelled_ahead():
        rows = scheduling.get(f"/series/{series['series_id']}").json()["appointments"]
        by_id = {a["appointment_id"]: a for a in rows}
        return all(by_id[a]["status"] == "cancelled" for a in ahead) and by_id
    by_id = wait_until(cancelled_ahead, timeout=20, message="future occurrences cancelled")
    assert {by_id[a]["cancelled_by"] for a in ahead} == {"clinic"}
    assert [by_id[a["appointment_id"]]["status"] for a in occurrences[:4]] == ["held"] * 4
    upcoming = scheduling.get(f"/clients/{client_id}/appointments/upcoming").json()
    assert not {a["appointment_id"] for a in upcoming["appointments"]} & set(ahead)
