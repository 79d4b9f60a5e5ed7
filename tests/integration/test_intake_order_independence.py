"""Intake ends in one state whatever order scheduling's and notes' events arrive in,
duplicated or not (issue 13): the pending reassessments, the care team, and the
not-on-track flags it raises when a clinic's session limit is reached.

Intake's own part comes first (tests/order_independence.py `make`): the clinic's
not-on-track rule, clients registered and assessed (a baseline, sometimes a
reassessment), some discharged. Then scheduling's sessions booked and held, its
ReassessmentDue, and notes' supervision are fed once in order, once shuffled with
duplicates, as after an outage of intake's queues.
"""
from datetime import date, datetime, timedelta, timezone
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from services.intake.application import IntakeApplication
from services.intake.read_models import assessments, clients, pending_reassessments
from shared.auth import Principal
from shared.caller import Caller
from shared.timeutil import iso
from tests.order_independence import Producers, deliver, event_id, fresh

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
SETUP = Caller(Principal("admin-1", "admin", ORG, (CLINIC,)), "setup")
BEGIN = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CLINICIANS = ["clin-1", "clin-2", "clin-3"]
PHQ9 = {"moderate": [2, 2, 2, 2, 2, 2, 1, 1, 0], "better": [1, 0, 1, 0, 1, 0, 0, 0, 0],
        "same": [2, 2, 2, 2, 1, 2, 1, 1, 0]}

client_plan = st.fixed_dictionaries({
    "reassessed": st.sampled_from([None, "better", "same"]),
    "discharged": st.booleans(),
    "sessions": st.lists(st.sampled_from(CLINICIANS), max_size=6),  # each one's clinician
    "due_after": st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
})
histories = st.tuples(st.sampled_from([None, 2, 3]),  # the clinic's session limit
                      st.lists(client_plan, min_size=1, max_size=3),
                      st.lists(st.sampled_from(CLINICIANS[1:] + [None]), max_size=3))


def make_intake(history, url):
    session_limit, plans, _supervision = history
    application = IntakeApplication(url)
    application.set_not_on_track_rule(SETUP, CLINIC, {
        "reassessments_without_improvement": 2, "sessions_without_improvement": session_limit,
        "on_reliable_deterioration": True})
    for number, plan in enumerate(plans):
        client_id = application.register_client(SETUP, {
            "organisation_id": ORG, "clinic_id": CLINIC, "name": f"Client {number}",
            "date_of_birth": date(1990, 1, 2), "contact": {"email": "ada@example.org"}})[
            "client_id"]
        application.assess_client(SETUP, client_id, {
            "instrument": "PHQ-9", "answers": PHQ9["moderate"],
            "assessed_at": BEGIN - timedelta(days=1)})
        if plan["reassessed"]:
            application.assess_client(SETUP, client_id, {
                "instrument": "PHQ-9", "answers": PHQ9[plan["reassessed"]],
                "assessed_at": BEGIN + timedelta(days=3, hours=-1)})
        if plan["discharged"]:
            application.discharge(SETUP, client_id, {
                "reason": "planned_ending", "discharged_at": None})
    return application


def publish(history):
    """-> scheduling's and notes' events, in the order they happened. Ids of intake's
    own records come from a first run of its part (they are the same in every run)."""
    session_limit, plans, supervision = history
    with fresh(partial(make_intake, history)) as (intake, _):
        with intake.store.read() as conn:
            known = conn.execute(select(clients.c.client_id, clients.c.episode_id)
                                 .order_by(clients.c.name)).all()
            latest = {r.client_id: r.assessment_id for r in conn.execute(
                select(assessments.c.client_id, assessments.c.assessment_id)
                .order_by(assessments.c.sequence))}
    producers = Producers(ORG, CLINIC)
    for (client_id, episode_id), plan in zip(known, plans):
        for index, clinician_id in enumerate(plan["sessions"]):
            start = BEGIN + timedelta(days=index)
            appointment_id = event_id("appointment", client_id, index)
            stream = f"appointment-{appointment_id}"
            producers.publish("scheduling", "AppointmentBooked", {
                "appointment_id": appointment_id, "client_id": client_id,
                "clinician_id": clinician_id, "start": iso(start), "duration_minutes": 50,
                "modality": "video", "session_type": "individual"}, stream,
                start - timedelta(days=7))
            producers.publish("scheduling", "SessionHeld", {
                "appointment_id": appointment_id, "client_id": client_id,
                "clinician_id": clinician_id, "start": iso(start), "minutes": 50,
                "modality": "video", "session_type": "individual",
                "place_of_service": "elsewhere", "audio_only": False,
                "episode_id": episode_id, "session_number": index + 1}, stream,
                start + timedelta(minutes=50))
            if plan["due_after"] == index + 1:
                producers.publish("scheduling", "ReassessmentDue", {
                    "client_id": client_id, "sessions_since_assessment": index + 1,
                    "last_assessment_id": latest[client_id] if index % 2 == 0 else None,
                    "reason": f"{index + 1} sessions held", "due_at": iso(start),
                    "due_by": "sessions"}, f"reassessment-{client_id}", start)
    for index, supervisor_id in enumerate(supervision):
        at = BEGIN + timedelta(days=index, hours=3)
        producers.publish("notes", "ClinicianSupervisionSet", {
            "clinician_id": "clin-1", "pre_licensed": supervisor_id is not None,
            "supervisor_id": supervisor_id, "set_by": "admin-1", "set_at": iso(at)},
            f"supervision-{ORG}-clin-1", at)
    return producers.events


def flagged(application):
    """(not-on-track flags by client and rule, clients due a reassessment)."""
    flags = sorted((e.data["client_id"], e.data["rule"]) for _, e in application.store.read_all(
        limit=10 ** 6, origin="intake") if e.name == "NotOnTrackFlagged")
    with application.store.read() as conn:
        due = sorted({r.client_id for r in conn.execute(pending_reassessments.select())})
    return flags, due


def check(history, seed, url=None):
    return deliver(partial(make_intake, history), publish(history), seed, url=url,
                   inspect=flagged)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=histories, seed=st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_any_order_with_duplicates_ends_as_in_order_delivery(history, seed):
    check(history, seed)


def test_the_session_limit_flags_once_whichever_session_arrives_first():
    """Limit 2, four sessions, no improvement: one flag, the same event whether
    session 2 or session 4 reaches intake first."""
    history = (2, [{"reassessed": "same", "discharged": False,
                    "sessions": ["clin-1"] * 4, "due_after": None}], [])
    flags, _ = check(history, seed=1)
    assert [rule for _, rule in flags] == ["sessions_without_improvement=2"]


def test_postgresql_one_shuffled_history(postgres_url):
    history = (3, [{"reassessed": None, "discharged": False,
                    "sessions": ["clin-1", "clin-2", "clin-1", "clin-3"], "due_after": 3},
                   {"reassessed": "better", "discharged": True, "sessions": ["clin-2"] * 5,
                    "due_after": 1}], ["clin-2", None])
    flags, due = check(history, seed=2, url=postgres_url)
    # The discharged client is neither flagged nor due; the other is both.
    assert len(flags) == 1 and due == [flags[0][0]]
