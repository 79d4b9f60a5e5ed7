"""Tenancy from stored records only: a token of organisation A (or of one clinic)
never reaches organisation B's (or another clinic's) appointments, series,
clients or clinicians, whatever ids or `clinic_id` it sends along."""
from datetime import timedelta

import pytest

from services.scheduling.service import Service as Scheduling
from shared.timeutil import iso, utc_now
from tests.support import RunningService, make_event, publish_event, token, wait_until

from tests.integration.test_scheduling_service import register, stored

pytestmark = pytest.mark.integration

A_CLINICIAN = token(org="org-1", clinics=["clinic-1"], user="dr-a")
A_ADMIN = token(role="admin", org="org-1", clinics=["*"], user="admin-a")
A_CLINIC_ADMIN = token(role="admin", org="org-1", clinics=["clinic-1"], user="admin-a1")
B_ADMIN = token(role="admin", org="org-2", clinics=["*"], user="admin-b")
OWN = ({}, {"clinic_id": "clinic-1"})  # query parameters naming the caller's own clinic


@pytest.fixture
def scheduling(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def created(response):
    assert response.status_code in (200, 201), response.text
    return response.json()


def records_of(running, org, clinic, bearer):
    """A client, a clinician with a profile, a past appointment and a series."""
    api = running.api
    client_id = register(running, org=org, clinic=clinic)
    created(api.put("/clinicians/dr-b", {"name": "Dr B", "clinic_ids": [clinic]},
                    bearer=bearer))
    start = (utc_now() - timedelta(days=1)).replace(microsecond=0)
    body = {"organisation_id": org, "clinic_id": clinic, "client_id": client_id,
            "clinician_id": "dr-b", "start": iso(start), "duration_minutes": 50,
            "modality": "video", "override_working_hours": True}
    appointment = created(api.post("/appointments", body, bearer=bearer))
    series = created(api.post("/series", {**body, "start": iso(start + timedelta(days=1)),
                                          "frequency": "weekly", "count": 2},
                              bearer=bearer))
    feed = created(api.post("/clinicians/dr-b/calendar-feeds", bearer=bearer))
    return {"client_id": client_id, "clinician_id": "dr-b", "start": start,
            "feed_id": feed["feed_id"],
            "appointment_id": appointment["appointment_id"],
            "series_id": series["series_id"]}


def reads_and_changes(b):
    appointment, series, client = b["appointment_id"], b["series_id"], b["client_id"]
    day = b["start"].date().isoformat()
    return [
        ("GET", f"/appointments/{appointment}", None),
        ("POST", f"/appointments/{appointment}/held", {"minutes": 50}),
        ("POST", f"/appointments/{appointment}/check-in", None),
        ("POST", f"/appointments/{appointment}/no-show", None),
        ("POST", f"/appointments/{appointment}/cancel", {"cancelled_by": "clinic"}),
        ("POST", f"/appointments/{appointment}/reschedule",
         {"start": iso(b["start"] + timedelta(hours=2))}),
        ("GET", f"/series/{series}", None),
        ("POST", f"/series/{series}/end", {}),
        ("GET", f"/clients/{client}/appointments", None),
        ("GET", f"/clients/{client}/appointments/upcoming", None),
        ("GET", f"/clients/{client}/reassessment-policy", None),
        ("PUT", f"/clients/{client}/reassessment-policy", {"every_sessions": 1}),
        ("GET", "/clinicians/dr-b", None),
        ("GET", f"/clinicians/dr-b/day?date={day}", None),
        ("GET", f"/clinicians/dr-b/week?date={day}", None),
        ("POST", "/clinicians/dr-b/calendar-feeds", None),
        ("GET", "/clinicians/dr-b/calendar-feeds", None),
        ("DELETE", f"/clinicians/dr-b/calendar-feeds/{b['feed_id']}", None),
    ]


def assert_unreachable(running, b, bearers):
    before = [e.id for e in stored(running)]
    for bearer in bearers:
        for method, path, body in reads_and_changes(b):
            for params in OWN:
                response = running.api.request(method, path, bearer=bearer, json=body,
                                               params=params)
                assert response.status_code == 404, (method, path, params, response.text)
    assert [e.id for e in stored(running)] == before  # nothing changed


def test_another_organisations_records_are_404_whatever_clinic_id_comes_along(scheduling):
    b = records_of(scheduling, "org-2", "clinic-b", B_ADMIN)
    assert_unreachable(scheduling, b, (A_CLINICIAN, A_ADMIN))
    # Organisation B's own admin still reaches them all.
    assert scheduling.api.get(f"/appointments/{b['appointment_id']}",
                              bearer=B_ADMIN).status_code == 200


def test_another_clinics_records_are_404_to_a_token_of_one_clinic(scheduling):
    b = records_of(scheduling, "org-1", "clinic-2", A_ADMIN)
    assert_unreachable(scheduling, b, (A_CLINICIAN, A_CLINIC_ADMIN))


def test_a_body_naming_another_tenants_client_books_nothing(scheduling):
    b = records_of(scheduling, "org-2", "clinic-b", B_ADMIN)
    before = len(stored(scheduling, "AppointmentBooked"))
    for bearer in (A_CLINICIAN, A_ADMIN):
        response = scheduling.api.post("/appointments", {
            "organisation_id": "org-1", "clinic_id": "clinic-1",
            "client_id": b["client_id"], "clinician_id": "dr-a",
            "start": iso(b["start"] + timedelta(days=3)), "duration_minutes": 50,
            "modality": "video"}, bearer=bearer)
        # Reads exactly as an unknown client would: nothing says it exists elsewhere.
        assert response.status_code == 422, response.text
        assert response.json()["fields"] == {"client_id": ["unknown client in this clinic"]}
    assert len(stored(scheduling, "AppointmentBooked")) == before


def test_a_clinician_id_used_by_two_organisations_stays_apart(scheduling):
    """Organisation A books its own dr-b at the time B's dr-b is busy: no conflict, and
    neither calendar shows the other's appointment."""
    b = records_of(scheduling, "org-2", "clinic-b", B_ADMIN)
    client_id = register(scheduling)
    ours = created(scheduling.api.post("/appointments", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
        "clinician_id": "dr-b", "start": iso(b["start"]), "duration_minutes": 50,
        "modality": "video"}, bearer=A_CLINICIAN))
    day = scheduling.api.get("/clinicians/dr-b/day", bearer=A_CLINICIAN, params={
        "date": b["start"].date().isoformat(), "clinic_id": "clinic-1"})
    assert day.status_code == 200, day.text
    assert [a["appointment_id"] for d in day.json()["days"] for a in d["appointments"]] \
        == [ours["appointment_id"]]
    theirs = scheduling.api.get("/clinicians/dr-b/day", bearer=B_ADMIN, params={
        "date": b["start"].date().isoformat(), "clinic_id": "clinic-b"}).json()
    assert [a["appointment_id"] for d in theirs["days"] for a in d["appointments"]] \
        == [b["appointment_id"]]


def test_a_client_moved_to_another_clinic_shows_there_only_that_clinics_appointments(
        scheduling):
    """The client's stored clinic decides who finds the client; each appointment's
    stored clinic decides who sees it (a client registered again at clinic-2 keeps
    clinic-1's history out of clinic-2's sight)."""
    client_id = register(scheduling)
    start = (utc_now() - timedelta(days=1)).replace(microsecond=0)
    first = created(scheduling.api.post("/appointments", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
        "clinician_id": "dr-a", "start": iso(start), "duration_minutes": 50,
        "modality": "video"}, bearer=A_CLINICIAN))
    publish_event(scheduling.amqp_uri, make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org", "phone": None},
        "registered_at": iso(utc_now())}, subject=f"client-{client_id}", clinic="clinic-2",
        sequence=2))
    clinic_2 = token(org="org-1", clinics=["clinic-2"])
    listing = wait_until(lambda: (r := scheduling.api.get(
        f"/clients/{client_id}/appointments", bearer=clinic_2)).status_code == 200 and r,
        message="the client known at clinic-2")
    assert listing.json()["appointments"] == []
    assert scheduling.api.get(f"/appointments/{first['appointment_id']}",
                              bearer=clinic_2).status_code == 404
    everywhere = scheduling.api.get(f"/clients/{client_id}/appointments", bearer=A_ADMIN)
    assert [a["appointment_id"] for a in everywhere.json()["appointments"]] \
        == [first["appointment_id"]]
