"""The logging guarantee (issue 12): through the real service processes, no log
line of any service carries a client's name, note text, a bearer token, a
calendar feed's secret, a name search or a path id; not eventlet's access line
(off), not the request line (route template), not a database error (parameters
hidden, the driver's message and DETAIL withheld)."""
import uuid

import pytest
from sqlalchemy import create_engine, text

from shared.config import SERVICES
from tests.support import token, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


def test_no_service_logs_a_canary(praxis):
    mark = uuid.uuid4().hex[:8]
    name = f"Quillfeather{mark} Zebulon"
    note = f"dreams-of-the-lighthouse-{mark}"
    search = f"Xylophonic{mark}"
    bad_secret = f"feedsecret{mark}"
    path_id = f"pathcanary{mark}"
    admin_token = token(role="admin", clinics=["*"], user=f"admin-{mark}")
    clinician_token = token(role="clinician", clinics=[CLINIC], user="dr-1")
    forged = f"eyJhbGciOiJIUzI1NiJ9.forged{mark}.x"
    intake, notes = praxis.api("intake", admin_token), praxis.api("notes", admin_token)
    scheduling = praxis.api("scheduling", admin_token)

    response = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": name,
        "date_of_birth": "1990-01-02", "contact": {"email": f"{mark}@example.org"}})
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    assert intake.get("/clients", params={"clinic_id": CLINIC, "name": search}) \
        .status_code == 200
    assert intake.get(f"/clients/{path_id}", params={"q": search}).status_code == 404
    assert intake.get("/clients", bearer=forged).status_code == 401

    wait_until(lambda: notes.post(f"/clients/{client_id}/goals", {
        "description": note, "target_date": "2031-03-01", "instrument": "PHQ-9",
        "target_score": 4}).status_code == 201, timeout=30, message="notes to know the client")

    assert scheduling.put("/clinicians/dr-1", {"name": "DR-1", "clinic_ids": [CLINIC]}) \
        .status_code == 200
    feed = scheduling.post("/clinicians/dr-1/calendar-feeds", None, bearer=clinician_token)
    assert feed.status_code == 201, feed.text
    secret = feed.json()["feed_token"]
    for given, status in ((secret, 200), (bad_secret, 401)):
        assert scheduling.get("/clinicians/dr-1/calendar.ics", params={"feed_token": given},
                              bearer="").status_code == status

    # A database error whose driver message quotes the value: a unique index the
    # test adds makes a second client of the same name fail inside the transaction.
    engine = create_engine(praxis.env["PRAXIS_INTAKE_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("CREATE UNIQUE INDEX canary_unique_name ON clients (name)"))
    engine.dispose()
    again = intake.post("/clients", {
        "organisation_id": ORG, "clinic_id": CLINIC, "name": name,
        "date_of_birth": "1990-01-02", "contact": {"email": f"{mark}@example.org"}})
    assert again.status_code >= 500, again.text
    assert name not in again.text

    logs = {service: (praxis.log_dir / f"{service}.log").read_text() for service in SERVICES}
    assert "IntegrityError" in logs["intake"], "the database error was logged"
    assert '"/clinicians/<clinician_id>/calendar.ics"' in logs["scheduling"] \
        or "/clinicians/<clinician_id>/calendar.ics" in logs["scheduling"]
    canaries = {"client name": name, "surname": f"Quillfeather{mark}", "note text": note,
                "name search": search, "feed secret": secret, "wrong secret": bad_secret,
                "path id": path_id, "bearer token": admin_token,
                "clinician token": clinician_token, "forged token": forged,
                "email": f"{mark}@example.org"}
    found = [(service, what) for service, log in logs.items()
             for what, canary in canaries.items() if canary in log]
    assert not found, found
    for service in SERVICES:
        assert praxis.api(service).get("/livez", bearer="").status_code == 200
