"""shared/care_team.py: the rows each event makes and who they let in, at a given time."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import MetaData, create_engine, select

from shared import care_team
from shared.auth import Principal
from shared.projection import Projection
from tests.support import make_event

CLIENT = "6f1c2a3e-0000-4000-8000-000000000001"
OTHER = "6f1c2a3e-0000-4000-8000-000000000002"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def db():
    projection = Projection(MetaData())
    care_team.include(projection)
    engine = create_engine("sqlite://")
    projection.metadata.create_all(engine)
    with engine.begin() as conn:
        yield projection, conn


def apply(db, service, name, data, org="org-1"):
    projection, conn = db
    projection.apply(conn, make_event(service, name, data, f"client-{data.get('client_id')}",
                                      org=org))


def why(db, user, client_id=CLIENT, now=NOW, role="clinician", org="org-1"):
    principal = Principal(user, role, org, ("clinic-1",))
    return care_team.reasons(db[1], principal, client_id, now)


def registered(primary=None):
    return {"client_id": CLIENT, "name": "Ada", "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org"}, "primary_clinician_id": primary,
            "registered_at": "2026-01-05T09:00:00Z"}


def test_primary_clinician_follows_the_latest_details(db):
    apply(db, "intake", "ClientRegistered", registered("dr-a"))
    assert why(db, "dr-a") == {"primary"} and why(db, "dr-b") == set()
    apply(db, "intake", "ClientDetailsUpdated", {
        "client_id": CLIENT, "changes": {"primary_clinician_id": "dr-b"},
        "updated_at": "2026-02-01T09:00:00Z"})
    assert why(db, "dr-a") == set() and why(db, "dr-b") == {"primary"}
    apply(db, "intake", "ClientDetailsUpdated", {
        "client_id": CLIENT, "changes": {"pronouns": "she/her"},
        "updated_at": "2026-02-02T09:00:00Z"})
    assert why(db, "dr-b") == {"primary"}
    # Another organisation's event with the same client id lets nobody into ours.
    apply(db, "intake", "ClientRegistered", registered("dr-c"), org="org-2")
    assert why(db, "dr-c") == set() and why(db, "dr-c", org="org-2") == {"primary"}


def test_sessions_additions_supervision_and_their_limits(db):
    apply(db, "intake", "ClientRegistered", registered())
    apply(db, "scheduling", "AppointmentBooked", {
        "appointment_id": OTHER, "client_id": CLIENT, "clinician_id": "dr-s",
        "start": "2026-03-02T10:00:00Z", "duration_minutes": 50, "modality": "video",
        "session_type": "individual"})
    apply(db, "intake", "CareTeamMemberAdded", {
        "client_id": CLIENT, "clinician_id": "dr-add", "added_by": "admin",
        "added_at": "2026-03-01T09:00:00Z"})
    assert why(db, "dr-s") == {"session"} and why(db, "dr-add") == {"added"}
    apply(db, "notes", "ClinicianSupervisionSet", {
        "clinician_id": "dr-s", "pre_licensed": True, "supervisor_id": "dr-sup",
        "set_by": "admin", "set_at": "2026-03-01T09:00:00Z"})
    assert why(db, "dr-sup") == {"supervision"}
    # Supervision ends when it is set to nobody; an addition when it is removed.
    apply(db, "notes", "ClinicianSupervisionSet", {
        "clinician_id": "dr-s", "pre_licensed": False, "supervisor_id": None,
        "set_by": "admin", "set_at": "2026-04-01T09:00:00Z"})
    apply(db, "intake", "CareTeamMemberRemoved", {
        "client_id": CLIENT, "clinician_id": "dr-add", "removed_by": "admin",
        "removed_at": "2026-04-01T09:00:00Z"})
    assert why(db, "dr-sup") == set() and why(db, "dr-add") == set()
    assert why(db, "dr-s", client_id=OTHER) == set()  # one client only


def test_break_glass_holds_until_it_expires_and_opens_no_list(db):
    apply(db, "intake", "ClientRegistered", registered())
    apply(db, "intake", "BreakGlassAccessGranted", {
        "client_id": CLIENT, "clinician_id": "dr-bg", "reason": "crisis",
        "granted_at": "2026-12-01T11:30:00Z", "expires_at": "2026-12-01T12:30:00Z"})
    assert why(db, "dr-bg") == {"break_glass"}
    assert why(db, "dr-bg", now=NOW + timedelta(minutes=31)) == set()
    # A supervisor does not inherit a supervisee's break-glass.
    apply(db, "notes", "ClinicianSupervisionSet", {
        "clinician_id": "dr-bg", "pre_licensed": True, "supervisor_id": "dr-sup",
        "set_by": "admin", "set_at": "2026-03-01T09:00:00Z"})
    assert why(db, "dr-sup") == set()
    # A later grant extends it; an earlier one replayed does not shorten it.
    for expires in ("2026-12-01T13:30:00Z", "2026-12-01T12:10:00Z"):
        apply(db, "intake", "BreakGlassAccessGranted", {
            "client_id": CLIENT, "clinician_id": "dr-bg", "reason": "again",
            "granted_at": "2026-12-01T12:00:00Z", "expires_at": expires})
    assert why(db, "dr-bg", now=NOW + timedelta(minutes=80)) == {"break_glass"}
    principal = Principal("dr-bg", "clinician", "org-1", ("clinic-1",))
    assert care_team.client_ids(db[1], principal, NOW) == set()
    query = select(care_team.care_team.c.client_id).where(
        care_team.visible(principal, care_team.care_team.c.client_id, NOW))
    assert db[1].execute(query).all() == []


def test_other_roles_are_not_filtered(db):
    admin = Principal("admin-1", "admin", "org-1", ("*",))
    assert care_team.client_ids(db[1], admin) is None
    care_team.require(admin, {"client_id": CLIENT})  # no request bound: nothing to check
