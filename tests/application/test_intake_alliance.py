"""The alliance in intake's application: held sessions from scheduling's SessionHeld,
ratings by the client (own sessions only) or a clinician, concerns on the clinic's list
until acknowledged, the clinic's settings, and the per-clinic gauge."""
import uuid

import pytest

from services.intake.application import IntakeApplication
from shared import metrics
from shared.auth import Principal
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.application.test_intake import (
    ADMIN, CLINIC, CLINIC_ADMIN, CLINICIAN, ELSEWHERE, ORG, register, session_held)

OPEN = {"status": "open", "limit": 50, "offset": 0}


@pytest.fixture
def intake(tmp_path):
    application = IntakeApplication(f"sqlite:///{tmp_path}/intake.db")
    yield application
    application.store.engine.dispose()


def client_caller(client_id):
    return Caller(Principal("client-user", "client", ORG, (CLINIC,), client_id=client_id),
                  "client-request")


def held(intake, client_id, number=1):
    envelope = session_held(client_id, number)
    assert intake.consume(envelope.to_dict()) == "applied"
    return envelope.data["appointment_id"]


def rate(intake, caller, client_id, session_id, scores):
    return intake.rate_alliance(caller, client_id, session_id, {"item_scores": scores})


def test_the_client_rates_their_own_held_session_and_35_is_a_concern(intake):
    client_id = register(intake)
    session_id = held(intake, client_id)
    view = rate(intake, client_caller(client_id), client_id, session_id, [9, 9, 9, 8])
    assert (view["total"], view["instrument"], view["rated_by"], view["subscales"]) == (
        35, "SRS", "client", {})
    (concern,) = intake.alliance_concerns(CLINICIAN.principal, CLINIC, OPEN)["alliance_concerns"]
    assert (concern["client_id"], concern["session_id"], concern["total"], concern["rules"]) \
        == (client_id, session_id, 35, ["below_threshold"])


def test_36_raises_no_concern(intake):
    client_id = register(intake)
    rate(intake, CLINICIAN, client_id, held(intake, client_id), [9, 9, 9, 9])
    assert intake.alliance_concerns(CLINICIAN.principal, CLINIC, OPEN)["alliance_concerns"] == []


def test_a_session_not_held_or_another_clients_is_refused(intake):
    client_id, other_id = register(intake), register(intake, name="Other Client")
    with pytest.raises(NotFound) as refused:
        rate(intake, CLINICIAN, client_id, str(uuid.uuid4()), [9] * 4)
    assert "session_id" in refused.value.fields
    others = held(intake, other_id)
    with pytest.raises(NotFound):
        rate(intake, client_caller(client_id), client_id, others, [9] * 4)
    with pytest.raises(NotFound):  # a client's token reaches no other client's record
        rate(intake, client_caller(client_id), other_id, others, [9] * 4)
    with pytest.raises(NotFound):
        rate(intake, ELSEWHERE, other_id, others, [9] * 4)


def test_a_second_rating_of_the_same_session_is_refused(intake):
    client_id = register(intake)
    session_id = held(intake, client_id)
    rate(intake, client_caller(client_id), client_id, session_id, [10] * 4)
    with pytest.raises(Conflict):
        rate(intake, CLINICIAN, client_id, session_id, [9] * 4)


def test_bad_scores_name_the_item(intake):
    client_id = register(intake)
    with pytest.raises(InvalidInput) as refused:
        rate(intake, CLINICIAN, client_id, held(intake, client_id), [9, 9, 11, 9])
    assert "item_scores.3" in refused.value.fields


def test_concern_lifecycle_raise_list_acknowledge_gone(intake):
    client_id = register(intake)
    rate(intake, CLINICIAN, client_id, held(intake, client_id), [5, 5, 5, 5])
    (concern,) = intake.alliance_concerns(ADMIN.principal, CLINIC, OPEN)["alliance_concerns"]
    intake.refresh_gauges()
    assert metrics.ALLIANCE_CONCERNS_OPEN.labels("intake", ORG, CLINIC)._value.get() == 1
    acknowledged = intake.acknowledge_alliance_concern(
        CLINICIAN, client_id, concern["flag_id"], {"action_taken": "repair conversation"})
    assert acknowledged["acknowledged_by"] == "clin-1"
    assert intake.alliance_concerns(ADMIN.principal, CLINIC, OPEN)["alliance_concerns"] == []
    (done,) = intake.alliance_concerns(ADMIN.principal, CLINIC, {**OPEN, "status": "all"})[
        "alliance_concerns"]
    assert (done["status"], done["action_taken"]) == ("acknowledged", "repair conversation")
    intake.refresh_gauges()
    assert metrics.ALLIANCE_CONCERNS_OPEN.labels("intake", ORG, CLINIC)._value.get() == 0
    with pytest.raises(Conflict):
        intake.acknowledge_alliance_concern(CLINICIAN, client_id, concern["flag_id"],
                                            {"action_taken": "again"})
    with pytest.raises(NotFound):
        intake.acknowledge_alliance_concern(ELSEWHERE, client_id, concern["flag_id"],
                                            {"action_taken": "x"})


def test_the_front_desk_sees_no_alliance_concerns(intake):
    desk = Principal("desk-1", "front_desk", ORG, (CLINIC,))
    with pytest.raises(Forbidden):
        intake.alliance_concerns(desk, CLINIC, OPEN)


def test_the_clinics_settings_choose_the_measure_the_frequency_and_the_drop(intake):
    assert intake.alliance_settings(CLINICIAN.principal, CLINIC)["default"] is True
    settings = intake.set_alliance_settings(CLINIC_ADMIN, CLINIC, {
        "instrument": "WAI-SR", "every_sessions": 2, "drop_points": 3})
    assert (settings["instrument"], settings["every_sessions"], settings["drop_points"],
            settings["default"]) == ("WAI-SR", 2, 3, False)
    client_id = register(intake)
    first = rate(intake, CLINICIAN, client_id, held(intake, client_id, 1), [4] * 12)
    assert first["total"] == 48 and first["subscales"]["bond"] == {"total": 16, "mean": 4.0}
    with pytest.raises(Conflict):  # every second session: session 2 is not asked for
        rate(intake, CLINICIAN, client_id, held(intake, client_id, 2), [4] * 12)
    # 45 is 3 below the running mean 48: a drop, though above the threshold 36
    rate(intake, CLINICIAN, client_id, held(intake, client_id, 3), [4] * 9 + [3] * 3)
    (concern,) = intake.alliance_concerns(ADMIN.principal, CLINIC, OPEN)["alliance_concerns"]
    assert (concern["total"], concern["rules"]) == (45, ["drop_from_mean"])
    with pytest.raises(InvalidInput) as refused:
        intake.set_alliance_settings(CLINIC_ADMIN, CLINIC, {
            "instrument": "PHQ-9", "every_sessions": 1, "drop_points": None})
    assert "instrument" in refused.value.fields
