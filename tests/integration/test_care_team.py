"""Care teams and break-glass (shared/care_team.py), with intake and notes running
on one vhost so intake's events reach notes, and notes' supervision reaches
intake, through the real broker; scheduling's AppointmentBooked is published as
scheduling publishes it. On SQLite and PostgreSQL.

A clinician of the clinic outside a client's care team gets 404 for the client's
records in intake and notes and does not find the client in the directory or
the risk list; primary clinician, a session booked, supervision and an admin's
addition each open them; break-glass opens them for its time, with its reason
in the privacy officer's list, the audit rows marked and the metric counted.
"""
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, select, text

from services.intake.service import Service as Intake
from services.notes.service import Service as Notes
from shared import audit
from shared.projection import rebuild
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

ADMIN = token(role="admin", user="admin-1")
PRIVACY = token(role="privacy_officer", user="privacy-1")
CLIENT = {"organisation_id": "org-1", "clinic_id": "clinic-1", "name": "Ada Lovelace",
          "date_of_birth": "1990-01-02", "contact": {"email": "ada@example.org"}}


def clinician(user):
    return token(role="clinician", user=user)


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path):
    """One database for intake and one for notes, on the engine of the parameter."""
    if request.param == "sqlite":
        yield [f"sqlite:///{tmp_path}/intake.db", f"sqlite:///{tmp_path}/notes.db"]
        return
    base_uri = request.getfixturevalue("postgres_base_uri")
    admin = create_engine(base_uri, isolation_level="AUTOCOMMIT")
    names = [f"praxis_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = base_uri.rsplit("/", 1)[0]
    yield [f"{base}/{name}" for name in names]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def running(databases, amqp_uri, **intake_settings):
    intake_url, notes_url = databases
    return (RunningService(Intake, intake_url, amqp_uri, **intake_settings),
            RunningService(Notes, notes_url, amqp_uri))


@pytest.fixture
def services(databases, amqp_uri):
    intake, notes = running(databases, amqp_uri)
    with intake, notes:
        yield intake, notes


def register(intake, notes, **details):
    created = intake.api.post("/clients", {**CLIENT, **details}, bearer=ADMIN)
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]
    wait_until(lambda: status(notes, f"/clients/{client_id}/chart", ADMIN) == 200,
               message="ClientRegistered reached notes")
    return client_id


def status(service, path, bearer):
    return service.api.get(path, bearer=bearer).status_code


def both(intake, notes, client_id, bearer):
    """The client's record in intake and their chart in notes."""
    return (status(intake, f"/clients/{client_id}", bearer),
            status(notes, f"/clients/{client_id}/chart", bearer))


def directory(intake, bearer):
    response = intake.api.get("/clients?clinic_id=clinic-1", bearer=bearer)
    assert response.status_code == 200, response.text
    return {c["client_id"] for c in response.json()["clients"]}


def booked(client_id, clinician_id):
    appointment_id = str(uuid.uuid4())
    return make_event("scheduling", "AppointmentBooked", {
        "appointment_id": appointment_id, "client_id": client_id,
        "clinician_id": clinician_id, "start": "2026-12-07T10:00:00Z",
        "duration_minutes": 50, "modality": "video", "session_type": "individual"},
        f"appointment-{appointment_id}")


def audit_rows(service, client_id):
    with service.application.store.read() as conn:
        return [r._asdict() for r in conn.execute(
            select(audit.audit_trail).where(audit.audit_trail.c.client_id == client_id)
            .order_by(audit.audit_trail.c.seq))]


def metric(running, name, **labels):
    """A sample's value from /metrics (0 when absent)."""
    body = running.api.get("/metrics", bearer="").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        if line.startswith(f"{name}{{") and line.split("}")[0][len(name) + 1:] == wanted:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_clinician_outside_the_care_team_gets_404_and_no_listing(services):
    intake, notes = services
    client_id = register(intake, notes)
    outsider = clinician("dr-outside")
    assert both(intake, notes, client_id, outsider) == (404, 404)
    for path in (f"/clients/{client_id}/outcomes", f"/clients/{client_id}/consents",
                 f"/clients/{client_id}/care-team"):
        assert status(intake, path, outsider) == 404, path
    for path in (f"/clients/{client_id}/plan", f"/clients/{client_id}/notes",
                 f"/clients/{client_id}/homework", f"/clients/{client_id}/journal"):
        assert status(notes, path, outsider) == 404, path
    assert client_id not in directory(intake, outsider)
    # A change is refused the same way, and nothing is stored.
    answered = intake.api.post(f"/clients/{client_id}/assessments",
                               {"instrument": "PHQ-9", "answers": [3] * 9}, bearer=outsider)
    assert answered.status_code == 404
    # The RPC twins refuse alike.
    with ClusterRpcProxy({"AMQP_URI": intake.settings.amqp_uri}) as rpc:
        with pytest.raises(RemoteError) as refused:
            rpc.intake.client(outsider, client_id)
        assert refused.value.exc_type == "NotFound"
        with pytest.raises(RemoteError) as refused:
            rpc.notes.chart(outsider, client_id)
        assert refused.value.exc_type == "NotFound"
        assert rpc.intake.client(ADMIN, client_id)["client_id"] == client_id
    # Other roles keep their role's view.
    assert both(intake, notes, client_id, ADMIN) == (200, 200)
    assert client_id in directory(intake, ADMIN)
    assert client_id in directory(intake, token(role="front_desk", user="desk-1"))
    assert status(intake, f"/clients/{client_id}", token(role="front_desk")) == 200


def test_each_relation_opens_the_clients_records(services, amqp_uri):
    intake, notes = services
    # Primary clinician, from the registration.
    primary = register(intake, notes, primary_clinician_id="dr-primary")
    assert both(intake, notes, primary, clinician("dr-primary")) == (200, 200)
    assert directory(intake, clinician("dr-primary")) == {primary}
    # A new primary clinician takes over; the old one no longer reaches the client.
    changed = intake.api.request("PATCH", f"/clients/{primary}", bearer=ADMIN,
                                 json={"primary_clinician_id": "dr-next"})
    assert changed.status_code == 200, changed.text
    wait_until(lambda: both(intake, notes, primary, clinician("dr-next")) == (200, 200),
               message="the new primary clinician reaches the client")
    assert both(intake, notes, primary, clinician("dr-primary")) == (404, 404)

    # A session booked with a clinician.
    session = register(intake, notes)
    assert both(intake, notes, session, clinician("dr-session")) == (404, 404)
    publish_event(amqp_uri, booked(session, "dr-session"))
    wait_until(lambda: both(intake, notes, session, clinician("dr-session")) == (200, 200),
               message="AppointmentBooked opens the client to its clinician")

    # An admin adds a clinician, lists the team, takes them off again.
    added = register(intake, notes, primary_clinician_id="dr-primary-2")
    assert status(intake, f"/clients/{added}", clinician("dr-added")) == 404
    refused = intake.api.post(f"/clients/{added}/care-team", {"clinician_id": "dr-added"},
                              bearer=clinician("dr-primary-2"))
    assert refused.status_code == 403  # admins only
    response = intake.api.post(f"/clients/{added}/care-team", {"clinician_id": "dr-added"},
                               bearer=ADMIN)
    assert response.status_code == 201, response.text
    assert {(m["clinician_id"], m["why"]) for m in response.json()["care_team"]} == {
        ("dr-added", "added"), ("dr-primary-2", "primary")}
    wait_until(lambda: both(intake, notes, added, clinician("dr-added")) == (200, 200),
               message="the added clinician reaches the client in both services")
    team = intake.api.get(f"/clients/{added}/care-team", bearer=clinician("dr-added"))
    assert team.status_code == 200 and len(team.json()["care_team"]) == 2
    removed = intake.api.request("DELETE", f"/clients/{added}/care-team/dr-added", bearer=ADMIN)
    assert removed.status_code == 200, removed.text
    wait_until(lambda: both(intake, notes, added, clinician("dr-added")) == (404, 404),
               message="the removed clinician no longer reaches the client")
    assert intake.api.request("DELETE", f"/clients/{added}/care-team/dr-primary-2",
                              bearer=ADMIN).status_code == 404  # primary, not added

    # Supervision: set in notes, it reaches intake over the broker.
    supervised = notes.api.put("/clinicians/dr-primary-2/supervision",
                               {"pre_licensed": True, "supervisor_id": "dr-supervisor"},
                               bearer=ADMIN)
    assert supervised.status_code == 200, supervised.text
    wait_until(lambda: both(intake, notes, added, clinician("dr-supervisor")) == (200, 200),
               message="the supervisor reaches the supervisee's client")
    assert added in directory(intake, clinician("dr-supervisor"))
    assert session not in directory(intake, clinician("dr-supervisor"))

    # The care-team rows are a function of the events: a rebuild gives them back.
    for service in (intake, notes):
        store, projection = service.application.store, service.application.projection
        with store.read() as conn:
            before = projection.snapshot(conn)
        assert before["care_team"] and before["care_team_supervision"]
        rebuild(store)
        with store.read() as conn:
            assert projection.snapshot(conn) == before


def test_break_glass_opens_a_client_for_its_time_and_is_reviewed(databases, amqp_uri):
    intake, notes = running(databases, amqp_uri, PRAXIS_BREAK_GLASS_MINUTES="0.05")
    with intake, notes:
        client_id = register(intake, notes, primary_clinician_id="dr-primary")
        outsider = clinician("dr-on-call")
        assert both(intake, notes, client_id, outsider) == (404, 404)
        before = metric(intake, "praxis_break_glass_total", service="intake",
                        organisation="org-1", clinic="clinic-1")
        path = f"/clients/{client_id}/break-glass"
        assert intake.api.post(path, {"reason": ""}, bearer=outsider).status_code == 422
        assert intake.api.post(path, {"reason": "x" * 501}, bearer=outsider).status_code == 422
        assert intake.api.post(path, {"reason": "crisis call"},
                               bearer=token(role="front_desk")).status_code == 403
        made_up = intake.api.post(f"/clients/{uuid.uuid4()}/break-glass",
                                  {"reason": "crisis call"}, bearer=outsider)
        assert made_up.status_code == 404
        granted = intake.api.post(path, {"reason": "Crisis call out of hours"}, bearer=outsider)
        assert granted.status_code == 201, granted.text
        grant = granted.json()
        assert grant["clinician_id"] == "dr-on-call" and grant["expires_at"] > grant["granted_at"]

        wait_until(lambda: both(intake, notes, client_id, outsider) == (200, 200),
                   message="break-glass opens the client in intake and notes")
        # Break-glass opens the record, not the lists.
        assert client_id not in directory(intake, outsider)
        # Its reads are marked in each service's audit trail; the care team's are not.
        assert both(intake, notes, client_id, clinician("dr-primary")) == (200, 200)
        for service in (intake, notes):
            rows = audit_rows(service, client_id)
            marked = [r for r in rows
                      if r["user_id"] == "dr-on-call" and r["outcome"] == "allowed"]
            assert marked and all(r["break_glass"] for r in marked), service.settings.service
            assert not any(r["break_glass"] for r in rows if r["user_id"] == "dr-primary")
        # The privacy officer's list of the clinic; the metric counted it.
        listed = intake.api.get("/clinics/clinic-1/break-glass", bearer=PRIVACY)
        assert listed.status_code == 200, listed.text
        assert [(g["client_id"], g["clinician_id"], g["reason"])
                for g in listed.json()["break_glass"]] == [
            (client_id, "dr-on-call", "Crisis call out of hours")]
        assert status(intake, "/clinics/clinic-1/break-glass", outsider) == 403
        assert status(intake, "/clinics/clinic-1/break-glass",
                      token(role="privacy_officer", clinics=["clinic-2"])) == 403
        assert metric(intake, "praxis_break_glass_total", service="intake",
                      organisation="org-1", clinic="clinic-1") == before + 1

        # After 0.05 minutes (3 s) the grant has expired in both services.
        wait_until(lambda: both(intake, notes, client_id, outsider) == (404, 404), timeout=20,
                   message="break-glass expires")
        second = intake.api.post(path, {"reason": "Second call"}, bearer=outsider)
        assert second.status_code == 201
        assert len(intake.api.get("/clinics/clinic-1/break-glass",
                                  bearer=PRIVACY).json()["break_glass"]) == 2
