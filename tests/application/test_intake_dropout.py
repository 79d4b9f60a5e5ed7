"""The dropout-risk rule in intake's application: scheduling's late cancellations and
no-shows with an alliance concern flag a client, listed until acknowledged; either
fact may come last."""
import uuid
from datetime import timedelta

import pytest

from services.intake.application import IntakeApplication
from shared.errors import Conflict
from shared.timeutil import utc_now
from tests.application.test_intake import ADMIN, CLINIC, CLINICIAN, ORG, register
from tests.application.test_intake_alliance import held, rate
from tests.order_independence import published

OPEN = {"status": "open", "limit": 50, "offset": 0}
ALL = {**OPEN, "status": "all"}


@pytest.fixture
def intake(tmp_path):
    application = IntakeApplication(f"sqlite:///{tmp_path}/intake.db")
    application.set_alliance_settings(ADMIN, CLINIC, {
        "instrument": "SRS", "every_sessions": 1, "drop_points": None,
        "dropout_misses": 2, "dropout_window_days": 30})
    yield application
    application.store.engine.dispose()


def missed(intake, client_id, kind="no_show", cancelled_by="client", late=True):
    appointment_id = str(uuid.uuid4())
    now = utc_now()
    start = now + timedelta(hours=3)
    common = {"appointment_id": appointment_id, "client_id": client_id,
              "clinician_id": "clin-1", "start": start.isoformat()}
    if kind == "no_show":
        event = published("scheduling", "AppointmentNoShow", {
            **common, "recorded_at": now.isoformat()},
            f"appointment-{appointment_id}", 2, now, ORG, CLINIC)
    else:
        event = published("scheduling", "AppointmentCancelled", {
            **common, "cancelled_by": cancelled_by, "notice_minutes": 180, "late": late,
            "reason": None, "cancelled_at": now.isoformat()},
            f"appointment-{appointment_id}", 2, now, ORG, CLINIC)
    assert intake.consume(event.to_dict()) == "applied"


def risks(intake, query=OPEN):
    return intake.dropout_risks(CLINICIAN.principal, CLINIC, query)["dropout_risks"]


def test_a_concern_then_two_misses_flag_a_dropout_risk_until_acknowledged(intake):
    client_id = register(intake)
    rate(intake, CLINICIAN, client_id, held(intake, client_id), [9, 9, 9, 8])  # 35: concern
    missed(intake, client_id, "late_cancel")
    assert risks(intake) == []  # one miss of two
    missed(intake, client_id, "late_cancel", cancelled_by="clinic")  # the clinic's: no miss
    missed(intake, client_id, "late_cancel", late=False)  # in good time: no miss
    assert risks(intake) == []
    missed(intake, client_id, "no_show")
    (risk,) = risks(intake)
    assert (risk["client_id"], risk["late_cancels"], risk["no_shows"]) == (client_id, 1, 1)
    missed(intake, client_id, "no_show")
    assert len(risks(intake)) == 1  # one open flag at a time
    acknowledged = intake.acknowledge_dropout_risk(CLINICIAN, client_id, risk["flag_id"],
                                                   {"action_taken": "called about sessions"})
    assert acknowledged["acknowledged_by"] == CLINICIAN.principal.user_id
    with pytest.raises(Conflict):
        intake.acknowledge_dropout_risk(CLINICIAN, client_id, risk["flag_id"],
                                        {"action_taken": "again"})
    assert risks(intake) == []
    (done,) = risks(intake, ALL)
    assert (done["status"], done["action_taken"]) == ("acknowledged", "called about sessions")


def test_two_misses_then_a_concern_flag_when_the_concern_comes(intake):
    client_id = register(intake)
    missed(intake, client_id)
    missed(intake, client_id)
    assert risks(intake) == []  # misses without a concern
    rate(intake, CLINICIAN, client_id, held(intake, client_id, 1), [9, 9, 9, 9])  # 36: fine
    assert risks(intake) == []
    rate(intake, CLINICIAN, client_id, held(intake, client_id, 2), [9, 9, 9, 8])
    (risk,) = risks(intake)
    assert risk["no_shows"] == 2


def test_the_clinic_turns_the_rule_off_and_the_settings_show_it(intake):
    assert intake.alliance_settings(ADMIN.principal, CLINIC)["dropout_misses"] == 2
    intake.set_alliance_settings(ADMIN, CLINIC, {
        "instrument": "SRS", "every_sessions": 1, "drop_points": None,
        "dropout_misses": None, "dropout_window_days": 30})
    settings = intake.alliance_settings(ADMIN.principal, CLINIC)
    assert (settings["dropout_misses"], settings["dropout_window_days"]) == (None, 30)
    client_id = register(intake)
    rate(intake, CLINICIAN, client_id, held(intake, client_id), [9, 9, 9, 8])
    missed(intake, client_id)
    missed(intake, client_id)
    assert risks(intake) == []


def test_the_fhir_export_carries_the_alliance_ratings(intake):
    client_id = register(intake)
    session_id = held(intake, client_id)
    rate(intake, CLINICIAN, client_id, session_id, [9, 9, 9, 8])
    bundle = intake.fhir_everything(CLINICIAN.principal, client_id)
    resources = [entry["resource"] for entry in bundle["entry"]]
    (response,) = [r for r in resources if r["id"] == f"alliance-{session_id}"]
    (total,) = [r for r in resources if r["id"] == f"alliance-{session_id}-total"]
    assert [i["answer"][0]["valueInteger"] for i in response["item"]] == [9, 9, 9, 8]
    assert (total["valueInteger"], total["interpretation"]) == (
        35, [{"text": "alliance concern"}])
    assert any(r["resourceType"] == "Questionnaire" and r["title"].startswith("Session rating")
               for r in resources)
