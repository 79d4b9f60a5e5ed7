"""Scheduling ends in one state whatever order intake's and notes' events arrive in,
duplicated or not (issue 13): the clients and episodes it knows, the care team, the
reassessment cycles, and what it appends in reaction (ReassessmentDue when an
assessment arrives, the cancellations a discharge makes).

Scheduling's own part comes first (tests/order_independence.py `make`): the clients'
registrations consumed, sessions booked and held, later appointments booked. Then
intake's and notes' history (details changed, the cancellation policy accepted
or withdrawn, assessed, discharged and a new episode opened, care-team changes,
supervision) is fed once in order, once shuffled
with duplicates, as after an outage of intake's queues.
"""
from datetime import datetime, timedelta, timezone
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.scheduling.application import SchedulingApplication
from services.scheduling.read_models.clients import clients
from shared.auth import Principal
from shared.caller import Caller
from shared.timeutil import iso
from services.scheduling.domain.cadence import reassessment_event_id
from tests.order_independence import FIXED_NOW, Producers, clock_at, deliver, event_id, \
    feed, fresh, outcome

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Caller(Principal("admin-1", "admin", ORG, (CLINIC,)), "setup")
BEGIN = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CLINICIANS = ["clin-1", "clin-2", "clin-3"]
NAMES = ["Ada King", "Ada Byron", "A. Lovelace"]

step = st.one_of(
    st.tuples(st.just("rename"), st.sampled_from(NAMES)),
    st.tuples(st.just("preferred"), st.sampled_from(NAMES + [None])),
    st.tuples(st.just("primary"), st.sampled_from(CLINICIANS + [None])),
    st.tuples(st.just("assess"), st.integers(min_value=0, max_value=12)),  # on day N
    st.tuples(st.just("discharge"), st.integers(min_value=0, max_value=12)),
    st.tuples(st.just("added"), st.sampled_from(CLINICIANS)),
    st.tuples(st.just("removed"), st.sampled_from(CLINICIANS)),
    st.tuples(st.just("supervision"), st.sampled_from(CLINICIANS[1:] + [None])),
    # accepted when not in force, else withdrawn: counted in the details revision
    st.tuples(st.just("consent"), st.none()),
)
client_plan = st.tuples(st.integers(min_value=0, max_value=9),  # sessions held, daily
                        st.integers(min_value=0, max_value=2),  # appointments to come
                        st.lists(step, min_size=1, max_size=7))
histories = st.lists(client_plan, min_size=1, max_size=3)


def publish(history):
    """-> (intake's and notes' events, in the order they happened; {client: (name,
    details revision)})."""
    producers, names = Producers(ORG, CLINIC), {}
    for number, (_held, _coming, steps) in enumerate(history):
        client_id = event_id("client", number)
        stream, revision, name = f"client-{client_id}", 1, "Ada Lovelace"
        episode_id = event_id("episode", number, 0)
        producers.publish("intake", "ClientRegistered", {
            "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org"}, "primary_clinician_id": "clin-1",
            "registered_at": iso(BEGIN - timedelta(days=30)), "details_revision": 1},
            stream, BEGIN - timedelta(days=30))
        producers.publish("intake", "EpisodeOpened", {
            "client_id": client_id, "episode_id": episode_id,
            "opened_at": iso(BEGIN - timedelta(days=30))}, stream, BEGIN - timedelta(days=30))
        assessed_days, discharged, consented = set(), False, False
        for index, (kind, value) in enumerate(steps):
            at = BEGIN + timedelta(days=value if isinstance(value, int) else index,
                                   hours=-1, minutes=index)
            if kind in ("rename", "preferred", "primary"):
                revision += 1
                field = {"rename": "name", "preferred": "preferred_name",
                         "primary": "primary_clinician_id"}[kind]
                producers.publish("intake", "ClientDetailsUpdated", {
                    "client_id": client_id, "changes": {field: value},
                    "updated_at": iso(at), "details_revision": revision}, stream, at)
                name = value if kind == "rename" else name
            elif kind == "consent":
                revision += 1
                consented = not consented
                producers.publish("intake", "ConsentGiven" if consented else "ConsentRevoked", {
                    "client_id": client_id, "kind": "cancellation_policy",
                    **({"document_version": f"v{index}", "given_at": iso(at)} if consented
                       else {"revoked_at": iso(at)}),
                    "recorded_by": "desk-1", "details_revision": revision}, stream, at)
            elif kind == "assess" and value not in assessed_days:  # one a day
                assessed_days.add(value)
                producers.publish("intake", "ClientAssessed", {
                    "client_id": client_id, "assessment_id": event_id("assessment", number,
                                                                      index),
                    "episode_id": episode_id, "instrument": "PHQ-9",
                    "kind": "initial" if len(assessed_days) == 1 else "reassessment",
                    "answers": [1] * 9, "total": 9, "severity": "mild", "change": None,
                    "assessed_at": iso(at)}, stream, at)
            elif kind == "discharge" and not discharged:
                discharged = True
                producers.publish("intake", "ClientDischarged", {
                    "client_id": client_id, "episode_id": episode_id,
                    "reason": "planned_ending", "discharged_at": iso(at)}, stream, at)
                episode_id = event_id("episode", number, "after", index)
                producers.publish("intake", "EpisodeOpened", {
                    "client_id": client_id, "episode_id": episode_id,
                    "opened_at": iso(at + timedelta(minutes=1))}, stream, at)
            elif kind in ("added", "removed"):
                producers.publish("intake", f"CareTeamMember{kind.capitalize()}", {
                    "client_id": client_id, "clinician_id": value, f"{kind}_by": "admin-1",
                    f"{kind}_at": iso(at)}, stream, at)
            elif kind == "supervision":
                producers.publish("notes", "ClinicianSupervisionSet", {
                    "clinician_id": "clin-1", "pre_licensed": value is not None,
                    "supervisor_id": value, "set_by": "admin-1", "set_at": iso(at)},
                    f"supervision-{ORG}-clin-1", at)
        names[client_id] = name, revision
    return producers.events, names


def make_scheduling(history, events, url):
    """Scheduling's own part: each client's registration consumed, then sessions held
    daily (one clinician per client) and appointments booked after FIXED_NOW."""
    application = SchedulingApplication(url)
    feed(application, [e for e in events if e.name == "ClientRegistered"])
    for number, (held, coming, _steps) in enumerate(history):
        client_id = event_id("client", number)
        starts = [BEGIN + timedelta(days=day, hours=number) for day in range(held)] + \
                 [FIXED_NOW + timedelta(days=day + 1, hours=number) for day in range(coming)]
        for index, start in enumerate(starts):
            appointment = application.book_appointment(ADMIN, {
                "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
                "clinician_id": f"clin-{number + 1}", "start": start,
                "duration_minutes": 50, "modality": "video",
                "override_working_hours": True})
            if index < held:
                with clock_at(start + timedelta(minutes=50)):
                    application.hold_session(ADMIN, appointment["appointment_id"],
                                             {"minutes": 50})
    return application


def scheduled(application):
    """({client: (name, details revision)}, what scheduling appended in reaction by
    type)."""
    with application.store.read() as conn:
        names = {r.client_id: (r.name, r.details_revision)
                 for r in conn.execute(clients.select())}
    appended = sorted(e.name for _, e in application.store.read_all(
        limit=10 ** 6, origin="scheduling") if e.name in ("ReassessmentDue",
                                                           "AppointmentCancelled"))
    return names, appended


def check(history, seed, url=None):
    events, names = publish(history)
    got_names, _ = deliver(partial(make_scheduling, history, events), events, seed, url=url,
                           inspect=scheduled)
    assert got_names == names


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=histories, seed=st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_any_order_with_duplicates_ends_as_in_order_delivery(history, seed):
    check(history, seed)


def test_a_late_older_assessment_flags_its_own_cycle_as_in_order_delivery_does():
    """Seven sessions after the first assessment, one after the second: in order, the
    first's cycle came due when it arrived; arriving after the second it must too."""
    history = [(7, 0, [("assess", 0), ("assess", 6)])]
    events, _ = publish(history)
    first, _second = [e for e in events if e.name == "ClientAssessed"]
    outcomes = []
    for order in (events, [e for e in events if e is not first] + [first]):
        with fresh(partial(make_scheduling, history, events)) as (application, setup_end):
            feed(application, order)
            outcomes.append(outcome(application, setup_end))
    due = [e for e in outcomes[0][1] if "ReassessmentDue" in e[1]]
    assert [e[0] for e in due] == [reassessment_event_id(first.data["client_id"],
                                                         first.data["assessment_id"])]
    assert outcomes[1] == outcomes[0]


def test_a_discharge_cancels_what_is_to_come_in_any_order(postgres_url):
    history = [(2, 2, [("rename", "Ada King"), ("assess", 0), ("discharge", 3),
                       ("primary", "clin-2"), ("added", "clin-3")]),
               (4, 1, [("preferred", "A. Lovelace"), ("supervision", "clin-2"),
                       ("assess", 1), ("removed", "clin-3"), ("supervision", None)])]
    check(history, seed=11, url=postgres_url)
