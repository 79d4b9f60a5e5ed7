"""Calendar feeds: issued only by the clinician themself or an admin, each revocable
alone, stored only as a SHA-256 of the secret, expiring, and never logged."""
import hashlib
import logging
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import MetaData, Table, inspect, select

from services.scheduling.service import Service as Scheduling
from shared.auth import Principal
from shared.caller import Caller
from shared.timeutil import iso, parse_time, utc_now
from tests.integration.test_scheduling_service import register, stored
from tests.support import RunningService, token

pytestmark = pytest.mark.integration

ADMIN = token(role="admin", user="admin-1")
DR_1 = token(user="dr-1")
DR_2 = token(user="dr-2")


@pytest.fixture
def scheduling(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        running.database_url = database_url
        for clinician in ("dr-1", "dr-2"):
            response = running.api.put(f"/clinicians/{clinician}", {
                "name": clinician.upper(), "clinic_ids": ["clinic-1"]}, bearer=ADMIN)
            assert response.status_code == 200, response.text
        yield running


def issue(running, clinician="dr-1", bearer=DR_1, **body):
    return running.api.post(f"/clinicians/{clinician}/calendar-feeds", body or None,
                            bearer=bearer)


def issued(running, clinician="dr-1", bearer=DR_1, **body):
    response = issue(running, clinician, bearer, **body)
    assert response.status_code == 201, response.text
    return response.json()


def ics(running, secret, clinician="dr-1"):
    return running.api.get(f"/clinicians/{clinician}/calendar.ics",
                           params={"feed_token": secret}, bearer="")


def revoke(running, feed_id, clinician="dr-1", bearer=DR_1):
    return running.api.request("DELETE", f"/clinicians/{clinician}/calendar-feeds/{feed_id}",
                               bearer=bearer)


def test_only_the_clinician_themself_or_an_admin_manages_a_feed(scheduling):
    api = scheduling.api
    # Another clinician, front desk, another organisation: refused.
    assert issue(scheduling, bearer=DR_2).status_code == 403
    assert issue(scheduling, bearer=token(role="front_desk", user="dr-1")).status_code == 403
    assert issue(scheduling, bearer=token(role="admin", org="org-2", clinics=["*"])) \
        .status_code == 404
    assert issue(scheduling, "nobody", bearer=ADMIN).status_code == 404
    assert stored(scheduling, "CalendarFeedIssued") == []

    own = issued(scheduling)
    by_admin = issued(scheduling, bearer=ADMIN)
    assert own["clinician_id"] == "dr-1" and own["status"] == "active"
    assert own["path"] == f"/clinicians/dr-1/calendar.ics?feed_token={own['feed_token']}"
    assert len(own["feed_token"]) >= 43  # 32 random bytes, URL-safe base64
    assert own["feed_token"] != by_admin["feed_token"]
    assert ics(scheduling, own["feed_token"]).status_code == 200

    # The list shows each feed without its secret (or the secret's digest).
    assert api.get("/clinicians/dr-1/calendar-feeds", bearer=DR_2).status_code == 403
    listing = api.get("/clinicians/dr-1/calendar-feeds", bearer=DR_1)
    assert listing.status_code == 200, listing.text
    assert [f["feed_id"] for f in listing.json()["feeds"]] == [own["feed_id"],
                                                               by_admin["feed_id"]]
    for secret in (own["feed_token"], by_admin["feed_token"]):
        assert secret not in listing.text
        assert hashlib.sha256(secret.encode()).hexdigest() not in listing.text
    assert "feed_token" not in listing.text

    # Revoked alone: that URL opens nothing, the other still works.
    assert revoke(scheduling, own["feed_id"], bearer=DR_2).status_code == 403
    assert revoke(scheduling, own["feed_id"], "dr-2", bearer=ADMIN).status_code == 404
    assert revoke(scheduling, uuid.uuid4()).status_code == 404
    response = revoke(scheduling, own["feed_id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked" and response.json()["revoked_by"] == "dr-1"
    assert revoke(scheduling, own["feed_id"], bearer=ADMIN).status_code == 409
    refused = ics(scheduling, own["feed_token"])
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    assert ics(scheduling, by_admin["feed_token"]).status_code == 200
    statuses = {f["feed_id"]: f["status"] for f in api.get(
        "/clinicians/dr-1/calendar-feeds", bearer=ADMIN).json()["feeds"]}
    assert statuses == {own["feed_id"]: "revoked", by_admin["feed_id"]: "active"}

    # A secret opens its own clinician's feed only; bearer tokens open none.
    assert ics(scheduling, by_admin["feed_token"], "dr-2").status_code == 401
    assert ics(scheduling, DR_1).status_code == 401
    assert ics(scheduling, "").status_code == 401


def test_a_feed_expires_after_90_days_unless_told_otherwise(scheduling):
    now = utc_now()
    feed = issued(scheduling)
    lives = parse_time(feed["expires_at"]) - now
    assert timedelta(days=90) - timedelta(minutes=1) < lives <= timedelta(days=90, minutes=1)
    short = issued(scheduling, expires_in_days=7)
    assert parse_time(short["expires_at"]) - now < timedelta(days=7, minutes=1)
    response = issue(scheduling, expires_in_days=0)
    assert response.status_code == 422 and "expires_in_days" in response.json()["fields"]

    # One issued 91 days ago has expired: refused, and listed as expired.
    principal = Principal("dr-1", "clinician", "org-1", ("clinic-1",))
    old = scheduling.application.issue_calendar_feed(
        Caller(principal, str(uuid.uuid4())), "dr-1", now=now - timedelta(days=91))
    refused = ics(scheduling, old["feed_token"])
    assert refused.status_code == 401 and "expired" in refused.json()["message"]
    listing = scheduling.api.get("/clinicians/dr-1/calendar-feeds", bearer=DR_1).json()
    assert {f["feed_id"]: f["status"] for f in listing["feeds"]}[old["feed_id"]] == "expired"
    assert ics(scheduling, feed["feed_token"]).status_code == 200


def test_the_feed_lifetime_is_configurable(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri,
                        PRAXIS_CALENDAR_FEED_DAYS=14) as running:
        running.api.put("/clinicians/dr-1", {"name": "Dr One", "clinic_ids": ["clinic-1"]},
                        bearer=ADMIN)
        feed = issued(running)
    lives = parse_time(feed["expires_at"]) - utc_now()
    assert timedelta(days=13, hours=23) < lives <= timedelta(days=14)


def everything_stored(running):
    """Every value of every table of the service's database, as text."""
    engine = running.application.store.engine
    values = []
    with engine.connect() as conn:
        for table_name in inspect(engine).get_table_names():
            table = Table(table_name, MetaData(), autoload_with=conn)
            for row in conn.execute(select(table)):
                values.extend(str(v) for v in row)
    return "\n".join(values)


def test_the_store_keeps_only_a_digest_and_no_log_names_the_secret(scheduling, caplog):
    caplog.set_level(logging.DEBUG)
    client_id = register(scheduling)
    start = (utc_now() + timedelta(days=2)).replace(microsecond=0)
    scheduling.api.post("/appointments", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
        "clinician_id": "dr-1", "start": iso(start), "duration_minutes": 50,
        "modality": "in_person", "override_working_hours": True}, bearer=ADMIN)
    feed = issued(scheduling)
    secret = feed["feed_token"]
    opened = ics(scheduling, secret)
    assert opened.status_code == 200
    (event,) = Calendar.from_ical(opened.content).walk("VEVENT")
    assert "In person" in str(event["description"])
    assert ics(scheduling, secret, "dr-2").status_code == 401
    assert revoke(scheduling, feed["feed_id"]).status_code == 200
    assert ics(scheduling, secret).status_code == 401

    # The database: the digest, never the secret (every table, every column).
    digest = hashlib.sha256(secret.encode()).hexdigest()
    dump = everything_stored(scheduling)
    assert digest in dump
    assert secret not in dump
    url = scheduling.database_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])  # and its write-ahead log, free pages
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert secret.encode() not in raw and digest.encode() in raw
    (issued_event,) = stored(scheduling, "CalendarFeedIssued")
    assert issued_event.data["token_sha256"] == digest
    # Kept inside scheduling: never relayed to the broker or the /events feed.
    events = scheduling.api.get("/events", bearer=ADMIN).json()
    assert "CalendarFeed" not in str(events)

    # The logs: the request lines name the route template, nothing names the secret.
    # (urllib3 is this test's own HTTP client, not the service)
    lines = [record.getMessage() for record in caplog.records
             if not record.name.startswith("urllib3")]
    assert any("/clinicians/<clinician_id>/calendar.ics" in line for line in lines)
    assert not [line for line in lines if secret in line]
    assert not [line for line in lines if digest in line]
