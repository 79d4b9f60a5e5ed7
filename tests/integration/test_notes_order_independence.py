"""Notes ends in one state whatever order intake's and scheduling's events arrive in,
duplicated or not (issue 13): the chart's client names, assessments and sessions,
the care team, and the progress notes it opens for each session held.

A generated history (clients registered, renamed, their primary clinician changed,
assessed, clinicians added to and taken off their care team, break-glass, sessions
booked and held) is fed to a fresh notes once in order, once shuffled with
duplicates (tests/order_independence.py).
"""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.notes.application import NotesApplication
from services.notes.read_models.chart import clients
from shared import care_team
from shared.timeutil import iso
from tests.order_independence import Producers, deliver, event_id

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
BEGIN = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CLINICIANS = ["clin-1", "clin-2", "clin-3"]

step = st.one_of(
    st.tuples(st.just("rename"), st.sampled_from(["Ada King", "Ada Byron", "A. Lovelace"])),
    st.tuples(st.just("primary"), st.sampled_from(CLINICIANS + [None])),
    st.tuples(st.just("assess"), st.integers(min_value=0, max_value=27)),
    st.tuples(st.just("session"), st.sampled_from(CLINICIANS)),
    st.tuples(st.just("added"), st.sampled_from(CLINICIANS)),
    st.tuples(st.just("removed"), st.sampled_from(CLINICIANS)),
    st.tuples(st.just("break_glass"), st.sampled_from(CLINICIANS)),
)
histories = st.lists(st.tuples(st.sampled_from(CLINICIANS + [None]),
                               st.lists(step, min_size=1, max_size=8)),
                     min_size=1, max_size=3)


def publish(history):
    """-> (the events intake and scheduling publish, in the order they happened; {client_id: name};
    the appointment ids of the sessions held)."""
    producers = Producers(ORG, CLINIC)
    names, held = {}, []
    clock = BEGIN
    for number, (primary, steps) in enumerate(history):
        client_id = event_id("client", number)
        stream, revision, name, sessions = f"client-{client_id}", 1, "Ada Lovelace", 0
        producers.publish("intake", "ClientRegistered", {
            "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org"}, "primary_clinician_id": primary,
            "registered_at": iso(clock), "details_revision": 1}, stream, clock)
        producers.publish("intake", "EpisodeOpened", {  # notes keeps only its position
            "client_id": client_id, "episode_id": event_id("episode", number),
            "opened_at": iso(clock)}, stream, clock)
        for index, (kind, value) in enumerate(steps):
            clock += timedelta(hours=1)
            if kind in ("rename", "primary"):
                revision += 1
                changes = {"name": value} if kind == "rename" else \
                    {"primary_clinician_id": value}
                producers.publish("intake", "ClientDetailsUpdated", {
                    "client_id": client_id, "changes": changes, "updated_at": iso(clock),
                    "details_revision": revision}, stream, clock)
                name = value if kind == "rename" else name
            elif kind == "assess":
                producers.publish("intake", "ClientAssessed", {
                    "client_id": client_id, "assessment_id": event_id("assessment", number,
                                                                      index),
                    "episode_id": None, "instrument": "PHQ-9",
                    "kind": "initial" if index == 0 else "reassessment",
                    "answers": [min(3, max(0, value - 3 * i)) for i in range(9)],
                    "total": value, "severity": "moderate", "change": None,
                    "assessed_at": iso(clock)}, stream, clock)
            elif kind == "session":
                sessions += 1
                appointment_id = event_id("appointment", number, index)
                appointment = f"appointment-{appointment_id}"
                producers.publish("scheduling", "AppointmentBooked", {
                    "appointment_id": appointment_id, "client_id": client_id,
                    "clinician_id": value, "start": iso(clock), "duration_minutes": 50,
                    "modality": "video", "session_type": "individual"}, appointment,
                    clock - timedelta(days=7))
                producers.publish("scheduling", "SessionHeld", {
                    "appointment_id": appointment_id, "client_id": client_id,
                    "clinician_id": value, "start": iso(clock), "minutes": 50,
                    "modality": "video", "session_type": "individual",
                    "place_of_service": "elsewhere", "audio_only": False,
                    "episode_id": None, "session_number": sessions,
                    "client_details_revision": revision}, appointment,
                    clock + timedelta(minutes=50))
                held.append(appointment_id)
            elif kind in ("added", "removed"):
                producers.publish("intake", f"CareTeamMember{kind.capitalize()}", {
                    "client_id": client_id, "clinician_id": value, f"{kind}_by": "admin-1",
                    f"{kind}_at": iso(clock)}, stream, clock)
            else:
                producers.publish("intake", "BreakGlassAccessGranted", {
                    "client_id": client_id, "clinician_id": value, "reason": "on call",
                    "granted_at": iso(clock), "expires_at": iso(clock + timedelta(hours=1))},
                    stream, clock)
        names[client_id] = name
    return producers.events, names, held


def chart_state(application):
    """(name of each client, the appointments with a progress note opened, care team)."""
    with application.store.read() as conn:
        names = {r.client_id: r.name for r in conn.execute(clients.select())}
        team = sorted((r.client_id, r.clinician_id, r.why)
                      for r in conn.execute(care_team.care_team.select()))
    opened = sorted(e.data["appointment_id"] for _, e in application.store.read_all(
        limit=10 ** 6, origin="notes") if e.name == "ProgressNoteOpened")
    return names, opened, team


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=histories, seed=st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_any_order_with_duplicates_ends_as_in_order_delivery(history, seed):
    events, names, held = publish(history)
    got_names, opened, _team = deliver(NotesApplication, events, seed, inspect=chart_state)
    assert got_names == names
    assert opened == sorted(held)


def test_the_care_team_follows_intake_s_order_not_arrival():
    """A primary clinician changed twice, and a clinician added, taken off and added
    again: whichever order they arrive in, the care team is intake's last word."""
    history = [("clin-1", [("primary", "clin-2"), ("primary", "clin-3"),
                           ("added", "clin-2"), ("removed", "clin-2"), ("added", "clin-1"),
                           ("removed", "clin-1")])]
    events, _, _ = publish(history)
    client_id = event_id("client", 0)
    reversed_order = list(reversed(events))
    for order in (events, reversed_order):
        _, _, team = deliver(NotesApplication, order, seed=7, inspect=chart_state)
        assert team == [(client_id, "clin-3", "primary")]


def test_postgresql_one_shuffled_history(postgres_url):
    history = [("clin-1", [("rename", "Ada King"), ("session", "clin-2"),
                           ("primary", "clin-3"), ("assess", 14), ("removed", "clin-2")]),
               (None, [("added", "clin-2"), ("session", "clin-2"), ("rename", "A. Lovelace"),
                       ("break_glass", "clin-3")])]
    events, names, held = publish(history)
    got_names, opened, _ = deliver(NotesApplication, events, seed=3, url=postgres_url,
                                   inspect=chart_state)
    assert (got_names, opened) == (names, sorted(held))
