"""The one error mapping: every PraxisError class to its status, JSON naming fields."""
import json

import pytest
from marshmallow import ValidationError

from shared.errors import (
    ConcurrencyError, Conflict, ContentTooLarge, Forbidden, InvalidEvent, InvalidInput,
    MalformedRequest, NotFound, TooManyRequests, Unauthorized, UnsupportedMediaType)
from shared.web import error_response


@pytest.mark.parametrize("error,status", [
    (MalformedRequest("not json"), 400), (Unauthorized("no token"), 401),
    (Forbidden("other clinic"), 403), (NotFound("no client"), 404),
    (Conflict("held twice"), 409), (ConcurrencyError("stream moved"), 409),
    (InvalidInput("bad", {"minutes": ["must be >= 0"]}), 422),
    (InvalidEvent("bad event"), 422), (ContentTooLarge("big"), 413),
    (UnsupportedMediaType("text/plain"), 415), (TooManyRequests("slow down", 2.5), 429)])
def test_status_per_error(error, status):
    response = error_response(error)
    assert response.status_code == status
    body = json.loads(response.get_data(as_text=True))
    assert body["error"] == error.code and body["message"] == error.message
    # RFC 9457: the problem members beside Praxis's own
    assert response.mimetype == "application/problem+json"
    assert body["type"] == "/problems/" + error.code.replace("_", "-")
    assert body["status"] == status and body["detail"] == error.message and body["title"]


def test_marshmallow_errors_name_the_fields():
    response = error_response(ValidationError({"start": ["Not a valid datetime."]}))
    assert response.status_code == 422
    assert json.loads(response.get_data())["fields"] == {"start": ["Not a valid datetime."]}


def test_unexpected_errors_hide_their_details():
    response = error_response(RuntimeError("password=hunter2"))
    assert response.status_code == 500
    assert "hunter2" not in response.get_data(as_text=True)


def test_too_many_requests_says_when_to_come_back():
    response = error_response(TooManyRequests("slow down", retry_after=2.5))
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_an_errors_own_members_stay_in_the_problem():
    from datetime import datetime, timezone

    from services.scheduling.domain.appointments import DoubleBooking

    class Slot:
        appointment_id = "appt-1"
        start = end = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    body = json.loads(error_response(DoubleBooking("clinician", "dr-1", Slot())).get_data())
    assert body["status"] == 409 and body["type"] == "/problems/double-booking"
    assert body["conflicting_appointment_id"] == "appt-1"
