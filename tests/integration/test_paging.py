"""Every list pages the same way (shared/paging.py): `limit`, an `offset` or an
`after`/`cursor` position, and `next` (what to ask for next, null at the end).
Paging through N items in pages of k gives every item exactly once."""
import uuid
from datetime import date, timedelta

import pytest

from services.billing.service import Service as Billing
from services.intake.service import Service as Intake
from tests.integration.test_billing_service import (SCHEDULE, known, session_held,
                                                    wait_for_charges)
from tests.support import RunningService, publish_event, token

pytestmark = pytest.mark.integration

N, K = 5, 2
ADMIN = token(role="admin", user="pager-1")
BILLING = token(role="billing", user="pager-1")
OFFICER = token(role="privacy_officer", user="officer-1")


@pytest.fixture
def billing(database_url, amqp_uri):
    with RunningService(Billing, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


def pages(api, path, key, cursor_name, bearer, **params):
    """Every page of a list, following `next` from the first page to the null one."""
    seen, cursor, count = [], None, 0
    while True:
        asked = {**params, "limit": K, **({} if cursor is None else {cursor_name: cursor})}
        response = api.get(path, params=asked, bearer=bearer)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["limit"] == K and len(body[key]) <= K
        seen += body[key]
        count += 1
        assert count <= 100, "next never ends"
        cursor = body["next"]
        if cursor is None:
            return seen, body
        assert len(body[key]) == K  # a page before the last is full


def test_charges_invoices_events_and_the_audit_trail_page_with_next(billing):
    api = billing.api
    assert api.put("/clinics/clinic-1/fee-schedule", SCHEDULE, bearer=BILLING).status_code == 200
    clients = [str(uuid.uuid4()) for _ in range(N)]
    known(billing, *clients)
    for day, client_id in enumerate(clients, start=1):
        publish_event(billing.amqp_uri,
                      session_held(client_id, minutes=50, start=f"2026-04-0{day}T10:00:00Z"))
    for client_id in clients:
        wait_for_charges(billing, client_id, 1)
        drafted = api.post(f"/clients/{client_id}/invoices", {
            "period_start": "2026-04-01", "period_end": "2026-04-30"}, bearer=BILLING)
        assert drafted.status_code == 201, drafted.text

    charges, last = pages(api, "/charges", "charges", "offset", BILLING, clinic_id="clinic-1")
    assert sorted(c["client_id"] for c in charges) == sorted(clients)
    assert len({c["charge_id"] for c in charges}) == N and last["total"] == N

    invoices, last = pages(api, "/invoices", "invoices", "offset", BILLING,
                           clinic_id="clinic-1")
    assert sorted(i["client_id"] for i in invoices) == sorted(clients)
    assert len({i["invoice_id"] for i in invoices}) == N and last["total"] == N

    everything = api.get("/events", params={"limit": 1000}, bearer=ADMIN).json()
    assert everything["next"] is None and len(everything["events"]) > N
    events, _ = pages(api, "/events", "events", "after", ADMIN)
    assert [e["position"] for e in events] == [e["position"] for e in everything["events"]]

    trail = api.get("/audit/accesses", params={"user_id": "pager-1", "limit": 1000},
                    bearer=OFFICER).json()
    assert trail["next"] is None and len(trail["accesses"]) > K  # more than a page
    accesses, last = pages(api, "/audit/accesses", "accesses", "cursor", OFFICER,
                           user_id="pager-1")
    assert [a["seq"] for a in accesses] == [a["seq"] for a in trail["accesses"]]
    assert last["next_cursor"] is None


def register_client(intake, label, number):
    """A client of clinic-1, registered through the API: their id."""
    registered = intake.api.post("/clients", {
        "organisation_id": "org-1", "clinic_id": "clinic-1",
        "name": f"{label} Client {number}", "date_of_birth": "1990-01-02",
        "contact": {"email": f"{label.lower()}{number}@example.org"}}, bearer=ADMIN)
    assert registered.status_code == 201, registered.text
    return registered.json()["client_id"]


def test_the_client_directory_pages_with_next_and_total(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as intake:
        made = set()
        for number in range(N):
            made.add(register_client(intake, "Pager", number))
        listed, last = pages(intake.api, "/clients", "clients", "offset", ADMIN,
                             clinic_id="clinic-1")
        assert sorted(c["client_id"] for c in listed) == sorted(made)
        assert last["total"] == N and last["next_offset"] is None


# -- the lists paged since: each one, with more items than a page -----------------------
def test_a_clients_ledger_and_the_clinics_unbilled_and_receivables_page(billing):
    api = billing.api
    assert api.put("/clinics/clinic-1/fee-schedule", SCHEDULE, bearer=BILLING).status_code == 200
    client_id = str(uuid.uuid4())
    known(billing, client_id)
    for day in range(1, N + 1):
        publish_event(billing.amqp_uri,
                      session_held(client_id, minutes=50, start=f"2026-04-0{day}T10:00:00Z"))
    wait_for_charges(billing, client_id, N)

    entries, last = pages(api, f"/clients/{client_id}/ledger", "entries", "offset", BILLING)
    assert len(entries) == N and len({e["reference_id"] for e in entries}) == N
    # the running balance runs across pages; the balances are of every entry
    assert [e["balance_minor"] for e in entries] == [
        sum(x["amount_minor"] for x in entries[:i + 1]) for i in range(N)]
    assert last["balances"][0]["balance_minor"] == entries[-1]["balance_minor"]

    ready, _ = pages(api, "/clinics/clinic-1/unbilled", "ready", "offset", BILLING)
    assert len({c["charge_id"] for c in ready}) == N

    others = [str(uuid.uuid4()) for _ in range(N)]
    known(billing, *others)
    for client in others:
        publish_event(billing.amqp_uri,
                      session_held(client, minutes=50, start="2026-04-07T10:00:00Z"))
    for client in [client_id] + others:
        wait_for_charges(billing, client, N if client == client_id else 1)
        issued = api.post(f"/clients/{client}/invoices", {
            "period_start": "2026-04-01", "period_end": "2026-04-30", "issue": True},
            bearer=BILLING)
        assert issued.status_code == 201, issued.text
    owing, last = pages(api, "/clinics/clinic-1/receivables", "clients", "offset", BILLING,
                        # the invoices were issued today: owed as of a day after
                        as_of=(date.today() + timedelta(days=1)).isoformat())
    assert sorted(c["client_id"] for c in owing) == sorted([client_id] + others)
    assert last["totals"][0]["total_minor"] == sum(c["total_minor"] for c in owing)


def test_the_risk_list_pages(database_url, amqp_uri):
    with RunningService(Intake, database_url, amqp_uri) as intake:
        flagged = set()
        for number in range(N):
            client_id = register_client(intake, "Risk", number)
            assessed = intake.api.post(f"/clients/{client_id}/assessments", {
                "instrument": "PHQ-9", "answers": [1] * 9}, bearer=ADMIN)
            assert assessed.status_code == 201, assessed.text
            flagged.add(client_id)
        listed, _ = pages(intake.api, "/clinics/clinic-1/risk-flags", "risk_flags", "offset",
                          ADMIN)
        assert {f["client_id"] for f in listed} == flagged and len(listed) == N


def test_a_clients_appointments_page(database_url, amqp_uri):
    from services.scheduling.service import Service as Scheduling
    from tests.integration.test_scheduling_service import book, register
    with RunningService(Scheduling, database_url, amqp_uri) as scheduling:
        scheduling.amqp_uri = amqp_uri
        client_id = register(scheduling)
        booked = set()
        for day in range(N):
            response = book(scheduling, client_id, start=f"2030-05-0{day + 1}T09:00:00+02:00")
            assert response.status_code == 201, response.text
            booked.add(response.json()["appointment_id"])
        for path in ("appointments", "appointments/upcoming"):
            listed, last = pages(scheduling.api, f"/clients/{client_id}/{path}",
                                 "appointments", "offset", token())
            assert {a["appointment_id"] for a in listed} == booked
            assert [a["start"] for a in listed] == sorted(a["start"] for a in listed)
            assert last["client_id"] == client_id


def test_homework_and_the_journal_page(database_url, amqp_uri):
    from services.notes.service import Service as Notes
    from tests.integration.test_notes_records import client_token, goal
    from tests.integration.test_notes_service import known_client
    with RunningService(Notes, database_url, amqp_uri) as notes:
        notes.amqp_uri = amqp_uri
        client_id = known_client(notes)
        goal_id = goal(notes, client_id)
        own = client_token(client_id)
        for number in range(N):
            assert notes.api.post(f"/clients/{client_id}/homework", {
                "goal_id": goal_id, "instructions": f"Task {number}",
                "due_date": "2026-09-01"}).status_code == 201
            assert notes.api.post(f"/clients/{client_id}/journal", {
                "mood": 5, "text": f"Day {number}", "shared": True},
                bearer=own).status_code == 201
        homework, last = pages(notes.api, f"/clients/{client_id}/homework", "homework",
                               "offset", own)
        assert sorted(h["instructions"] for h in homework) == [f"Task {n}" for n in range(N)]
        assert last["assigned"] == N  # completion counts all of it, not the page
        entries, _ = pages(notes.api, f"/clients/{client_id}/journal", "entries", "offset",
                           token())
        assert sorted(e["text"] for e in entries) == [f"Day {n}" for n in range(N)]
