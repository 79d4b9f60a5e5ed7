"""Appointment reminders by e-mail, against a real SMTP server (aiosmtpd) and the
real broker and store (both engines): the clinic's schedule, only clients who
allow e-mail, no clinical detail, the video link, exactly one reminder per slot
(replicas at once, a process that died mid-send), none for a cancelled or moved
appointment, and what the relay refusing or being away records."""
import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from services.scheduling.adapters.mail import SmtpSender
from services.scheduling.service import Service as Scheduling
from shared.timeutil import iso, parse_time, utc_now
from tests.concurrency import at_once
from tests.integration.test_scheduling_service import stored
from tests.smtp_server import SmtpServer, free_port
from tests.support import RunningService, make_event, publish_event, token, wait_until

pytestmark = pytest.mark.integration

ADMIN = token(role="admin")
VIDEO = "https://meet.example.org/praxis-{appointment_id}"


@pytest.fixture
def scheduling(database_url, amqp_uri):
    with RunningService(Scheduling, database_url, amqp_uri) as running:
        running.amqp_uri = amqp_uri
        yield running


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        server.sender = SmtpSender("127.0.0.1", server.port, starttls=False,
                                   sender="reminders@clinic.example.org")
        yield server


def configure(running, hours=(48, 2)):
    response = running.api.put("/clinics/clinic-1", {
        "name": "Riverside Counselling", "time_zone": "Europe/London",
        "video_link_template": VIDEO, "reminder_hours_before": list(hours)}, bearer=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def register(running, email, email_ok=True):
    client_id = str(uuid.uuid4())
    publish_event(running.amqp_uri, make_event("intake", "ClientRegistered", {
        "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
        "contact": {"email": email, "phone": None, "email_ok": email_ok},
        "primary_clinician_id": "user-1", "registered_at": iso(utc_now())},
        subject=f"client-{client_id}", org="org-1", clinic="clinic-1"))
    wait_until(lambda: running.api.get(f"/clients/{client_id}/appointments").status_code
               == 200, message="the client to be known to scheduling")
    return client_id


SLOTS = iter(range(1, 1000))


def book(running, client_id, modality="video", session_type="crisis"):
    # Each booking an hour apart, three days ahead: nobody is double-booked.
    start = (utc_now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0) \
        + timedelta(hours=next(SLOTS))
    response = running.api.post("/appointments", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "client_id": client_id,
        "clinician_id": "dr-1", "start": iso(start), "duration_minutes": 50,
        "modality": modality, "session_type": session_type})
    assert response.status_code == 201, response.text
    return response.json()["appointment_id"], start


def reminders(running, name, appointment_id):
    return [e for e in stored(running, name) if e.data["appointment_id"] == appointment_id]


def count(clinic, outcome):
    return REGISTRY.get_sample_value("praxis_reminders_total",
                                     {"organisation": "org-1", "clinic": clinic,
                                      "outcome": outcome}) or 0.0


def test_the_schedule_is_a_clinic_setting_and_is_checked(scheduling):
    assert configure(scheduling, (2, 48))["reminder_hours_before"] == [48, 2]
    for bad in ([0], [337], [2, 2], [1, 2, 3, 4, 5], ["x"], [True], 3):
        response = scheduling.api.put("/clinics/clinic-1", {
            "name": "Riverside", "reminder_hours_before": bad}, bearer=ADMIN)
        assert response.status_code in (400, 422), (bad, response.text)
        assert "reminder_hours_before" in response.json()["fields"], bad
    assert scheduling.api.get("/clinics/clinic-1").json()["reminder_hours_before"] == [48, 2]


def test_each_slot_reminds_once_only_those_who_allow_email(scheduling, smtp):
    app, inbox = scheduling.application, smtp.inbox
    configure(scheduling)
    ada = register(scheduling, "ada@example.org")
    ben = register(scheduling, "ben@example.org", email_ok=False)
    cy = register(scheduling, None)
    video, start = book(scheduling, ada)
    not_allowed, _ = book(scheduling, ben)
    no_address, no_address_start = book(scheduling, cy, modality="in_person")
    sent_before = count("clinic-1", "sent")

    assert app.send_due_reminders(smtp.sender, now=start - timedelta(hours=49)) == []
    app.send_due_reminders(smtp.sender, now=start - timedelta(hours=47))
    (message,) = inbox.to("ada@example.org")
    assert len(inbox.messages) == 1 and not inbox.to("ben@example.org")
    text = message.get_content()
    assert "Riverside Counselling" in text and "appointment" in text
    assert VIDEO.format(appointment_id=video) in text
    local = start.astimezone(parse_time(iso(start)).tzinfo)
    assert local.strftime("%Y") in text
    for clinical in ("crisis", "dr-1", "Lovelace", "Ada", "individual"):
        assert clinical not in text and clinical not in message["Subject"]
    (sent,) = reminders(scheduling, "ReminderSent", video)
    assert sent.data["hours_before"] == 48 and "ada@" not in str(sent.data)
    assert reminders(scheduling, "ReminderSent", not_allowed) == []
    assert reminders(scheduling, "ReminderClaimed", not_allowed) == []
    app.send_due_reminders(smtp.sender, now=no_address_start - timedelta(hours=47))
    (failed,) = reminders(scheduling, "ReminderFailed", no_address)
    assert failed.data["reason"] == "no_email"
    assert count("clinic-1", "sent") == sent_before + 1

    # The same slot later, and again: nothing more.
    app.send_due_reminders(smtp.sender, now=start - timedelta(hours=46))
    app.send_due_reminders(smtp.sender, now=no_address_start - timedelta(hours=30))
    assert reminders(scheduling, "ReminderClaimed", no_address) == []
    assert len(inbox.messages) == 1
    assert len(reminders(scheduling, "ReminderFailed", no_address)) == 1
    # The 2 h slot is a reminder of its own; none once the appointment began.
    app.send_due_reminders(smtp.sender, now=start - timedelta(hours=1))
    assert len(inbox.to("ada@example.org")) == 2
    app.send_due_reminders(smtp.sender, now=start + timedelta(minutes=1))
    assert len(inbox.to("ada@example.org")) == 2
    assert [e.data["hours_before"] for e in reminders(scheduling, "ReminderSent", video)] \
        == [48, 2]


def test_replicas_at_once_send_one(scheduling, smtp):
    app = scheduling.application
    configure(scheduling)
    appointment_id, start = book(scheduling, register(scheduling, "dee@example.org"))
    now = start - timedelta(hours=47)
    at_once(*[lambda: app.send_due_reminders(smtp.sender, now=now)] * 4)
    assert len(smtp.inbox.to("dee@example.org")) == 1
    assert len(reminders(scheduling, "ReminderClaimed", appointment_id)) == 1
    assert len(reminders(scheduling, "ReminderSent", appointment_id)) == 1


class Killed(BaseException):
    """The process dying between the claim and the relay's answer."""


class DiesMidSend:
    def send(self, *args, **kwargs):
        raise Killed()


def test_a_send_interrupted_by_a_crash_is_recorded_and_never_repeated(scheduling, smtp):
    app = scheduling.application
    configure(scheduling)
    appointment_id, start = book(scheduling, register(scheduling, "eve@example.org"))
    now = start - timedelta(hours=47)
    with pytest.raises(Killed):
        app.send_due_reminders(DiesMidSend(), now=now)
    assert len(reminders(scheduling, "ReminderClaimed", appointment_id)) == 1
    # Restarted, inside the claim's timeout (another replica may still be sending)...
    app.send_due_reminders(smtp.sender, now=now + timedelta(minutes=1))
    assert reminders(scheduling, "ReminderFailed", appointment_id) == []
    # ... and after it: closed as interrupted, not sent a second time.
    app.send_due_reminders(smtp.sender, now=now + timedelta(minutes=6))
    app.send_due_reminders(smtp.sender, now=now + timedelta(minutes=7))
    assert smtp.inbox.to("eve@example.org") == []
    (failed,) = reminders(scheduling, "ReminderFailed", appointment_id)
    assert failed.data["reason"] == "interrupted"
    assert reminders(scheduling, "ReminderSent", appointment_id) == []


def test_cancelled_and_moved_appointments_get_no_stale_reminder(scheduling, smtp):
    app, api = scheduling.application, scheduling.api
    configure(scheduling)
    client_id = register(scheduling, "fay@example.org")
    cancelled, cancelled_start = book(scheduling, client_id)
    moved, old_start = book(scheduling, client_id)
    assert api.post(f"/appointments/{cancelled}/cancel",
                    {"cancelled_by": "client", "reason": None}).status_code == 200
    new_start = old_start + timedelta(days=7)
    response = api.post(f"/appointments/{moved}/reschedule", {"start": iso(new_start)})
    assert response.status_code == 200, response.text

    app.send_due_reminders(smtp.sender, now=old_start - timedelta(hours=47))
    assert smtp.inbox.to("fay@example.org") == []
    assert reminders(scheduling, "ReminderClaimed", cancelled) == []
    assert reminders(scheduling, "ReminderClaimed", moved) == []
    app.send_due_reminders(smtp.sender, now=new_start - timedelta(hours=47))
    (sent,) = reminders(scheduling, "ReminderSent", moved)
    assert parse_time(sent.data["start"]) == new_start
    assert len(smtp.inbox.to("fay@example.org")) == 1


def test_a_relay_that_is_away_records_the_failure(scheduling):
    app = scheduling.application
    configure(scheduling)
    appointment_id, start = book(scheduling, register(scheduling, "gus@example.org"))
    away = SmtpSender("127.0.0.1", free_port(), starttls=False, sender="r@clinic.example.org",
                      timeout=5)
    failed_before = count("clinic-1", "failed")
    app.send_due_reminders(away, now=start - timedelta(hours=47))
    (failed,) = reminders(scheduling, "ReminderFailed", appointment_id)
    assert failed.data["reason"] == "unreachable"
    assert count("clinic-1", "failed") == failed_before + 1
    assert app.send_due_reminders(away, now=start - timedelta(hours=46)) == []
