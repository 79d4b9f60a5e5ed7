"""The reassessment cadence: every N sessions, every D days, whichever first; once
per cycle; late and older assessments."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.scheduling.domain import cadence as rules
from shared.errors import InvalidInput

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CLIENT = str(uuid.uuid4())
EVERY_4 = rules.Policy(every_sessions=4)


def hours(n):
    return T0 + timedelta(hours=n)


def days(n):
    return T0 + timedelta(days=n)


def cadence_with(sessions, assessment=None):
    cadence = rules.Cadence(CLIENT)
    if assessment:
        cadence.assessed(*assessment)
    for n in sessions:
        cadence.held(hours(n))
    return cadence


def test_policies_validate_and_a_client_policy_may_clear_itself():
    assert rules.set_policy(6)[0].data == {"every_sessions": 6, "every_days": None}
    assert rules.set_policy(None, 120)[0].data == {"every_sessions": None, "every_days": 120}
    assert rules.set_policy(None, None, client_id=CLIENT)[0].data == {
        "every_sessions": None, "every_days": None, "client_id": CLIENT}
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidInput) as caught:
            rules.set_policy(bad)
        assert "every_sessions" in caught.value.fields
    with pytest.raises(InvalidInput) as caught:
        rules.set_policy(None, 0)
    assert "every_days" in caught.value.fields
    with pytest.raises(InvalidInput):
        rules.set_policy(None, None)  # a clinic needs one limit


def test_the_clients_policy_wins_then_the_clinics_then_the_default():
    clinic, client = rules.Policy(2), rules.Policy(None, 30)
    assert rules.effective_policy(clinic, client) == client
    assert rules.effective_policy(clinic, None) == clinic
    assert rules.effective_policy(None, None) == rules.Policy(4, None)


def test_not_due_at_n_minus_one_due_at_exactly_n():
    cadence = cadence_with([1, 2, 3])
    assert cadence.decide(EVERY_4, hours(10)) == []
    cadence.held(hours(4))
    (event,) = cadence.decide(EVERY_4, hours(10))
    assert event.name == "ReassessmentDue"
    assert event.data == {"client_id": CLIENT, "sessions_since_assessment": 4,
                          "last_assessment_id": None,
                          "reason": "4 sessions held since registration "
                                    "(policy: every 4 sessions)",
                          "due_at": "2024-01-01T04:00:00Z", "due_by": "sessions"}
    assert event.id == str(uuid.uuid5(rules.REASSESSMENT_NAMESPACE,
                                      f"ReassessmentDue:{CLIENT}:none"))


def test_every_session_is_due_after_each_session():
    policy = rules.Policy(every_sessions=1)
    cadence = cadence_with([1], ("a-1", hours(0)))
    (event,) = cadence.decide(policy, hours(2))
    assert event.data["sessions_since_assessment"] == 1
    cadence.flagged("a-1")
    assert cadence.decide(policy, hours(3)) == []
    cadence.assessed("a-2", hours(1.5))
    assert cadence.decide(policy, hours(3)) == []  # nothing held since a-2
    cadence.held(hours(2))
    assert cadence.decide(policy, hours(3))[0].data["last_assessment_id"] == "a-2"


def test_due_by_time_alone_and_only_from_an_assessment():
    policy = rules.Policy(every_days=30)
    cadence = cadence_with([], ("a-1", days(0)))
    assert cadence.decide(policy, days(29.99)) == []
    (event,) = cadence.decide(policy, days(30))
    assert event.data["due_by"] == "days"
    assert event.data["due_at"] == "2024-01-31T00:00:00Z"
    assert event.data["reason"].startswith("30 days since the last assessment")
    # Decided later (a timer that was down), the event is the same one.
    (later,) = cadence.decide(policy, days(45))
    assert later.id == event.id and later.data["due_at"] == event.data["due_at"]
    # No assessment yet: nothing to count days from.
    assert cadence_with([]).decide(policy, days(400)) == []


def test_whichever_comes_first():
    policy = rules.Policy(every_sessions=3, every_days=30)
    by_sessions = cadence_with([1, 2, 3], ("a-1", hours(0)))
    (event,) = by_sessions.decide(policy, days(40))  # both limits passed: sessions first
    assert event.data["due_by"] == "sessions" and event.data["due_at"] == iso_hours(3)
    assert "every 3 sessions or every 30 days, whichever first" in event.data["reason"]
    by_days = cadence_with([1, 2], ("a-1", hours(0)))
    (event,) = by_days.decide(policy, days(30))
    assert event.data["due_by"] == "days"
    assert by_days.decide(policy, days(29)) == []


def iso_hours(n):
    return hours(n).isoformat().replace("+00:00", "Z")


def test_not_due_twice_in_one_cycle():
    cadence = cadence_with([1, 2, 3, 4])
    (event,) = cadence.decide(EVERY_4, hours(10))
    cadence.flagged(event.data["last_assessment_id"])
    cadence.held(hours(5))
    assert cadence.decide(EVERY_4, hours(11)) == []
    assert cadence.decide(rules.Policy(4, 1), days(100)) == []


def test_the_event_is_the_same_for_the_same_cycle_whoever_decides_and_when():
    first = cadence_with([1, 2, 3, 4], ("a-1", hours(0))).decide(EVERY_4, hours(10))[0]
    second = cadence_with([1, 2, 3, 4, 5], ("a-1", hours(0))).decide(EVERY_4, hours(20))[0]
    assert first.id == second.id == rules.reassessment_event_id(CLIENT, "a-1")
    assert first.data["due_at"] == second.data["due_at"] == iso_hours(4)
    assert first.id != rules.reassessment_event_id(CLIENT, None)


def test_a_new_assessment_starts_a_new_cycle():
    cadence = cadence_with([1, 2, 3, 4])
    cadence.flagged(None)
    assert cadence.assessed("a-1", hours(4.5))
    assert cadence.sessions_since_assessment == 0
    for n in (5, 6, 7):
        cadence.held(hours(n))
        assert cadence.decide(EVERY_4, hours(n)) == []
    cadence.held(hours(8))
    (event,) = cadence.decide(EVERY_4, hours(8))
    assert event.data["last_assessment_id"] == "a-1"
    assert event.data["sessions_since_assessment"] == 4
    assert event.data["reason"].startswith("4 sessions held since the last assessment")


def test_a_late_older_assessment_is_ignored():
    cadence = cadence_with([1, 2, 3], ("a-new", hours(0.5)))
    assert not cadence.assessed("a-old", hours(-100))
    assert not cadence.assessed("a-same-time", hours(0.5))
    assert cadence.last_assessment_id == "a-new"
    assert cadence.sessions_since_assessment == 3
    assert cadence.decide(EVERY_4, hours(10)) == []
    assert rules.supersedes(None, hours(0))
    assert rules.supersedes(hours(0), hours(1))
    assert not rules.supersedes(hours(1), hours(0))


def test_an_assessment_dated_before_sessions_already_held_can_be_due_at_once():
    cadence = cadence_with([1, 2, 3, 4])
    cadence.flagged(None)
    assert cadence.assessed("a-1", hours(0.5))
    (event,) = cadence.decide(EVERY_4, hours(10))
    assert event.data["last_assessment_id"] == "a-1"


def test_only_sessions_after_the_assessment_count():
    assert cadence_with([1, 2, 3, 4, 5, 6], ("a-1", hours(3))).sessions_since_assessment == 3


@pytest.mark.parametrize("every", [1, 2, 6])
def test_a_policy_other_than_four(every):
    policy = rules.Policy(every_sessions=every)
    cadence = rules.Cadence(CLIENT)
    for n in range(1, every):
        cadence.held(hours(n))
        assert cadence.decide(policy, hours(n)) == []
    cadence.held(hours(every))
    (event,) = cadence.decide(policy, hours(every))
    assert event.data["sessions_since_assessment"] == every
    assert f"every {every} session" in event.data["reason"]
