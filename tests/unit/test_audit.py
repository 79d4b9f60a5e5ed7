"""The audit trail's pure parts: outcomes, which client a request touched, hashing."""
from shared import audit


def test_outcome_of_a_status():
    assert [audit.outcome_of(s) for s in (200, 201, 401, 403, 404, 409, 422, 500)] == [
        "allowed", "allowed", "denied", "denied", "not_found", "failed", "failed", "failed"]


def test_the_first_client_touched_is_the_one_recorded():
    access = audit.Access("GET /appointments/<uuid:appointment_id>", "read")
    access.touching(None)
    access.touching("client-a", "clinic-1")
    access.touching("client-b", "clinic-2")
    assert (access.client_id, access.clinic_id) == ("client-a", "clinic-1")


def test_a_clinic_is_taken_only_from_the_client_recorded():
    access = audit.Access("GET /clients/<uuid:client_id>", "read", client_id="client-a")
    access.touching("client-b", "clinic-2")
    assert access.clinic_id is None
    access.learn({"client_id": "client-a", "clinic_id": "clinic-1", "name": "Ada"})
    assert (access.client_id, access.clinic_id) == ("client-a", "clinic-1")
    access.learn([{"client_id": "client-c"}])  # a list names no single client
    assert access.client_id == "client-a"


def test_touching_without_a_bound_access_does_nothing():
    audit.bind(None)
    audit.touching("client-a")  # a consumer or a script: no request, no row
    assert audit.current() is None


def test_the_hash_covers_every_field_and_the_previous_hash():
    row = {name: None for name in audit.CONTENT}
    row.update(seq=1, prev_hash=audit.GENESIS, user_id="u", break_glass=False)
    base = audit.digest(row)
    assert audit.digest({**row, "break_glass": True}) != base
    assert audit.digest({**row, "prev_hash": "1" * 64}) != base
    assert audit.digest(dict(reversed(list(row.items())))) == base


def test_timestamps_are_fixed_width_utc():
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 12, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert audit.timestamp(moment) == "2026-12-01T10:00:00.000000Z"
    assert audit.timestamp(datetime(2026, 12, 1, 10, 0)) == "2026-12-01T10:00:00.000000Z"
