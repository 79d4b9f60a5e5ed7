"""Billing ends in one state whatever order intake's, scheduling's and notes' events
arrive in, duplicated or not: every charge is priced for the payer the client had
when the session took place (issue 13: a billing restarted after an outage drained
its queues in an order of their own and billed insurer clients as self-pay).

A generated history (clients registered with some payer, their payer switched or
their name changed, the cancellation policy accepted or withdrawn, sessions held,
late cancellations and no-shows between the changes, notes signed, diagnoses set)
is built as the producers publish it and fed to `application.consume()` of a
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
    # the cancellation policy accepted when not in force, else withdrawn
    st.tuples(st.just("consent"), st.none()),
    st.tuples(st.sampled_from(["late_cancel", "no_show"]), st.none()),
)
LATE_CANCEL_FEE, NO_SHOW_FEE = 5000, 7500
client_history = st.tuples(st.sampled_from(sorted(PAYERS)),
                           st.lists(step, min_size=1, max_size=6))
histories = st.lists(client_history, min_size=1, max_size=4)


def publish(history):
    """-> (events in the order they happened, {appointment_id: expected payer kind, or
    for a missed one (kind, whether its fee is billable)}, {client_id: latest name})."""
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
        consented = False
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
            elif kind == "consent":
                sequence += 1
                revision += 1
                consented = not consented
                events.append(_event(
                    "intake", "ConsentGiven" if consented else "ConsentRevoked", {
                        "client_id": client_id, "kind": "cancellation_policy",
                        **({"document_version": f"v{index}", "given_at": iso(clock)}
                           if consented else {"revoked_at": iso(clock)}),
                        "recorded_by": "desk-1", "details_revision": revision},
                    client_stream, sequence, clock))
            elif kind in ("late_cancel", "no_show"):
                appointment_id = _id("appointment", number, index)
                # Missed within this hour: the payer and consent of the hour decide.
                start = clock + timedelta(minutes=30)
                common = {"appointment_id": appointment_id, "client_id": client_id,
                          "clinician_id": "clin-1", "start": iso(start),
                          "client_details_revision": revision}
                if kind == "late_cancel":
                    events.append(_event("scheduling", "AppointmentCancelled", {
                        **common, "cancelled_by": "client", "notice_minutes": 30,
                        "late": True, "reason": None, "cancelled_at": iso(clock)},
                        f"appointment-{appointment_id}", 2, clock))
                else:
                    events.append(_event("scheduling", "AppointmentNoShow", {
                        **common, "recorded_at": iso(start + timedelta(minutes=15))},
                        f"appointment-{appointment_id}", 2, start + timedelta(minutes=15)))
                expected[appointment_id] = (
                    kind, consented and in_force not in ("insurer", "medicaid"))
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
    application.set_policy(ADMIN, CLINIC, {
        "bill_only_signed_notes": True, "late_cancel_fee_minor": LATE_CANCEL_FEE,
        "no_show_fee_minor": NO_SHOW_FEE})
    return application


def fresh_billing(url=None):
    return fresh(make_billing, url)


def charged_payers(application):
    """{appointment_id: payer kind of its session charge, or (kind, billable) of its
    late-cancel or no-show fee}."""
    found = {}
    for _, e in application.store.read_all(limit=100000):
        if e.name == "ChargeRecorded":
            found[e.data["appointment_id"]] = e.data["payer_kind"]
        elif e.name == "FeeCharged" and e.data["kind"] in ("late_cancel", "no_show"):
            found[e.data["appointment_id"]] = (e.data["kind"], e.data["billable"])
    return found


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


def test_a_missed_appointment_is_charged_by_the_consent_in_force_then_in_any_order():
    """The cancellation policy accepted, withdrawn, accepted again: a late cancel
    inside each span is charged by the consent of its span, whatever order the three
    consent events arrived in (a later change never reaches back)."""
    events, _, _ = publish([("self_pay", [])])
    registered = events[0]
    client_id = registered.data["client_id"]
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

    def cancelled(day):
        appointment_id = _id("appointment", "consent", day)
        return _event("scheduling", "AppointmentCancelled", {
            "appointment_id": appointment_id, "client_id": client_id,
            "clinician_id": "clin-1", "start": f"2026-11-{day}T15:00:00Z",
            "cancelled_by": "client", "notice_minutes": 60, "late": True, "reason": None,
            "cancelled_at": f"2026-11-{day}T14:00:00Z"}, f"appointment-{appointment_id}", 2,
            BEGIN)
    cancellations = [cancelled("03"), cancelled("07"), cancelled("10")]
    fees = []
    for order in ([given, revoked, again], [again, revoked, given], [revoked, again, given]):
        with fresh_billing() as (billing, _):
            feed(billing, [registered, *order, *cancellations])
            fees.append(charged_payers(billing))
    assert fees[0] == fees[1] == fees[2]
    assert [fees[0][c.data["appointment_id"]] for c in cancellations] == \
        [("late_cancel", True), ("late_cancel", False), ("late_cancel", True)]
