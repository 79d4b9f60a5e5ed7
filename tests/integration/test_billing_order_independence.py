"""Billing ends in one state whatever order intake's, scheduling's and notes' events
arrive in, duplicated or not: every charge is priced for the payer the client had
when the session took place (issue 13: a billing restarted after an outage drained
its queues in an order of their own and billed insurer clients as self-pay).

A generated history (clients registered with some payer, their payer switched or
their name changed, sessions held between the changes, notes signed, diagnoses
set) is built as the producers publish it and fed to `application.consume()` of a
fresh billing: once in order, once shuffled with duplicates (tests/order_independence.py).
Read models, the events billing appends (charges) and a rebuild must all agree.
"""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from prometheus_client import REGISTRY

from services.billing.application import BillingApplication
from services.billing.read_models import billing_clients
from shared.auth import Principal
from shared.caller import Caller
from shared.timeutil import iso
from tests.order_independence import deliver, event_id as _id, feed, fresh, published, \
    snapshot

pytestmark = pytest.mark.integration

ORG, CLINIC = "org-1", "clinic-1"
ADMIN = Caller(Principal("admin-1", "admin", ORG, (CLINIC,)), "setup")
PRICES = {"90832": 9000, "90834": 12000, "90837": 16000}
BEGIN = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
PAYERS = {
    "self_pay": None,
    "insurer": {"kind": "insurer", "insurer_name": "Acme Health", "member_id": "A-1"},
    "insurer_b": {"kind": "insurer", "insurer_name": "Blue Shield", "member_id": "B-7"},
    "medicaid": {"kind": "medicaid", "insurer_name": "State Medicaid", "member_id": "M-3"},
}


def _event(service, name, data, subject, sequence, time):
    return published(service, name, data, subject, sequence, time, ORG, CLINIC)


# -- a history, and the events it publishes ------------------------------------------
step = st.one_of(
    st.tuples(st.just("payer"), st.sampled_from(sorted(PAYERS))),
    st.tuples(st.just("rename"), st.sampled_from(["Ada King", "Ada Byron", "A. Lovelace"])),
    st.tuples(st.just("session"), st.sampled_from([30, 45, 60])),
    st.tuples(st.just("diagnoses"), st.sampled_from([["F32.1"], ["F41.1"], ["F33.0"]])),
)
client_history = st.tuples(st.sampled_from(sorted(PAYERS)),
                           st.lists(step, min_size=1, max_size=6))
histories = st.lists(client_history, min_size=1, max_size=4)


def publish(history):
    """-> (events in the order they happened, {appointment_id: expected payer kind},
    {client_id: latest name})."""
    events, expected, names = [], {}, {}
    clock = BEGIN
    for number, (payer, steps) in enumerate(history):
        client_id = _id("client", number)
        client_stream = f"client-{client_id}"
        sequence, revision = 1, 1
        name = "Ada Lovelace"
        events.append(_event("intake", "ClientRegistered", {
            "client_id": client_id, "name": name, "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org"}, "payer": PAYERS[payer],
            "registered_at": iso(clock), "details_revision": 1}, client_stream, 1, clock))
        sequence += 1  # billing does not take it: only its position is kept
        events.append(_event("intake", "EpisodeOpened", {
            "client_id": client_id, "episode_id": _id("episode", number),
            "opened_at": iso(clock)}, client_stream, sequence, clock))
        in_force = (PAYERS[payer] or {}).get("kind", "self_pay")
        for index, (kind, value) in enumerate(steps):
            clock += timedelta(hours=1)
            if kind in ("payer", "rename"):
                sequence += 1
                revision += 1
                changes = {"payer": PAYERS[value]} if kind == "payer" else {"name": value}
                events.append(_event("intake", "ClientDetailsUpdated", {
                    "client_id": client_id, "changes": changes, "updated_at": iso(clock),
                    "details_revision": revision}, client_stream, sequence, clock))
                if kind == "payer":
                    in_force = (PAYERS[value] or {}).get("kind", "self_pay")
                else:
                    name = value
            elif kind == "session":
                appointment_id = _id("appointment", number, index)
                stream = f"appointment-{appointment_id}"
                events.append(_event("scheduling", "SessionHeld", {
                    "appointment_id": appointment_id, "client_id": client_id,
                    "clinician_id": "clin-1", "start": iso(clock), "minutes": value,
                    "modality": "in_person", "session_type": "individual",
                    "place_of_service": "office", "audio_only": False, "episode_id": None,
                    "session_number": 1, "client_details_revision": revision},
                    stream, 2, clock + timedelta(minutes=value)))
                expected[appointment_id] = in_force
                if index % 2 == 0:  # some notes signed: the hold/release path too
                    events.append(_event("notes", "NoteSigned", {
                        "note_id": _id("note", appointment_id),
                        "appointment_id": appointment_id, "client_id": client_id,
                        "clinician_id": "clin-1", "format": "SOAP", "signed_by": "clin-1",
                        "signed_at": iso(clock + timedelta(minutes=90)),
                        "pending_supervision": False},
                        f"note-{appointment_id}", 1, clock + timedelta(minutes=90)))
            else:
                events.append(_event("notes", "DiagnosesSet", {
                    "client_id": client_id, "codes": value, "set_by": "clin-1",
                    "set_at": iso(clock)}, f"diagnoses-{client_id}", index + 1, clock))
        names[client_id] = name
    return events, expected, names


# -- a fresh billing, fed ------------------------------------------------------------
def make_billing(url):
    application = BillingApplication(url)
    application.set_fee_schedule(ADMIN, CLINIC, {"currency": "USD", "prices": PRICES})
    application.set_policy(ADMIN, CLINIC, {"bill_only_signed_notes": True})
    return application


def fresh_billing(url=None):
    return fresh(make_billing, url)


def charged_payers(application):
    return {e.data["appointment_id"]: e.data["payer_kind"]
            for _, e in application.store.read_all(limit=100000) if e.name == "ChargeRecorded"}


def client_names(application):
    with application.store.read() as conn:
        return {r.client_id: r.name for r in conn.execute(billing_clients.select())}


def charged(application):
    """(payer of each charge, latest name of each client)."""
    return charged_payers(application), client_names(application)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=histories, seed=st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_any_order_with_duplicates_ends_as_in_order_delivery(history, seed):
    events, expected, names = publish(history)
    assert deliver(make_billing, events, seed, inspect=charged) == (expected, names)


def test_a_session_before_its_client_waits_and_is_priced_when_the_client_arrives():
    """Deferred, not priced for no payer: kept in the store (listed, counted) and
    charged in the unit of work of the registration, for the payer then in force."""
    events, expected, _ = publish([("insurer", [("session", 45), ("payer", "self_pay"),
                                                ("session", 60)])])
    registered, session, switched, later = [
        e for e in events if e.name not in ("NoteSigned", "EpisodeOpened")]
    with fresh_billing() as (billing, _):
        feed(billing, [later, session])
        waiting = billing.deferred_reactions()
        assert [(w["event_id"], w["reason"]) for w in waiting] == \
            [(later.id, "client_unknown"), (session.id, "client_unknown")]
        assert charged_payers(billing) == {}
        billing.refresh_deferred_gauge()  # as /metrics does at a scrape
        assert REGISTRY.get_sample_value("praxis_events_deferred", {
            "service": "billing", "reason": "client_unknown"}) == 2
        feed(billing, [registered])
        # The later session still waits for the change it was held after (revision 2).
        assert [(w["event_id"], w["reason"]) for w in billing.deferred_reactions()] == \
            [(later.id, "client_details_behind")]
        assert charged_payers(billing) == {session.data["appointment_id"]: "insurer"}
        feed(billing, [switched])
        assert billing.deferred_reactions() == []
        assert charged_payers(billing) == expected


def test_an_update_before_its_registration_is_kept_and_applied():
    events, _, names = publish([("self_pay", [("rename", "Ada King"),
                                              ("payer", "medicaid")])])
    registered, renamed, switched = [e for e in events if e.name != "EpisodeOpened"]
    with fresh_billing() as (billing, _):
        feed(billing, [switched, renamed])
        assert client_names(billing) == {}
        feed(billing, [registered])
        (row,) = snapshot(billing)["billing_clients"]
        assert "'Ada King'" in row and "'medicaid'" in row and "'State Medicaid'" in row


def test_postgresql_one_shuffled_history(postgres_url):
    history = [("insurer", [("session", 45), ("payer", "self_pay"), ("rename", "Ada King"),
                            ("session", 60), ("payer", "medicaid"), ("session", 30)]),
               ("self_pay", [("payer", "insurer_b"), ("session", 45), ("diagnoses",
                                                                       ["F32.1"])]),
               ("medicaid", [("session", 30), ("diagnoses", ["F41.1"]),
                             ("diagnoses", ["F33.0"])])]
    events, expected, _ = publish(history)
    assert deliver(make_billing, events, seed=13, url=postgres_url,
                   inspect=charged_payers) == expected


def test_a_consent_given_then_revoked_reads_revoked_in_either_order():
    """A late ConsentGiven older than the revocation billing holds changes nothing
    (a late-cancel fee needs the cancellation policy accepted and not withdrawn)."""
    client_id = _id("client", "consent")
    stream = f"client-{client_id}"
    given = _event("intake", "ConsentGiven", {
        "client_id": client_id, "kind": "cancellation_policy", "document_version": "v1",
        "given_at": "2026-11-02T09:00:00Z", "recorded_by": "desk-1"}, stream, 3, BEGIN)
    revoked = _event("intake", "ConsentRevoked", {
        "client_id": client_id, "kind": "cancellation_policy",
        "revoked_at": "2026-11-05T09:00:00Z", "recorded_by": "desk-1"}, stream, 4, BEGIN)
    again = _event("intake", "ConsentGiven", {
        "client_id": client_id, "kind": "cancellation_policy", "document_version": "v2",
        "given_at": "2026-11-09T09:00:00Z", "recorded_by": "desk-1"}, stream, 5, BEGIN)
    snapshots = []
    for order in ([given, revoked], [revoked, given]):
        with fresh_billing() as (billing, _):
            feed(billing, order)
            snapshots.append(snapshot(billing)["billing_consents"])
    assert snapshots[0] == snapshots[1] and "None" not in snapshots[0][0][-1]
    # Given again later: in force whatever the order of the three.
    again_rows = []
    for order in ([given, revoked, again], [again, revoked, given], [revoked, again, given]):
        with fresh_billing() as (billing, _):
            feed(billing, order)
            again_rows.append(snapshot(billing)["billing_consents"])
    assert again_rows[0] == again_rows[1] == again_rows[2]
    assert again_rows[0][0][-1] == "None" and "'v2'" in again_rows[0][0]
