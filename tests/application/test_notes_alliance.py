"""intake's alliance concerns in notes' notes-due view: shown to the clinician who held
the rated session until intake says it was acknowledged; never another clinician's or
another organisation's."""
import uuid

from tests.application.test_notes import (
    CLINICIAN, OTHER_CLINICIAN, OTHER_ORG, app, registered, session_held)  # noqa: F401
from tests.support import make_event


def concern(client_id, session_id, org="org-1", sequence=2):
    flag_id = str(uuid.uuid4())
    return flag_id, make_event("intake", "AllianceConcernFlagged", {
        "client_id": client_id, "flag_id": flag_id, "session_id": session_id,
        "instrument": "SRS", "total": 35, "rules": ["below_threshold"],
        "reason": "SRS total 35 is below 36", "flagged_at": "2026-01-12T16:00:00Z"},
        f"alliance-{client_id}", org=org, sequence=sequence)


def acknowledged(client_id, flag_id):
    return make_event("intake", "AllianceConcernAcknowledged", {
        "client_id": client_id, "flag_id": flag_id, "acknowledged_by": "clinician-7",
        "acknowledged_at": "2026-01-13T09:00:00Z", "action_taken": "talked it through"},
        f"alliance-{client_id}", sequence=3)


def test_a_concern_shows_in_the_notes_due_view_until_acknowledged(app):  # noqa: F811
    client_id = registered(app)
    session_id = str(uuid.uuid4())
    assert app.consume(session_held(client_id, session_id).to_dict()) == "applied"
    flag_id, flagged = concern(client_id, session_id)
    assert app.consume(flagged.to_dict()) == "applied"
    (shown,) = app.notes_due(CLINICIAN, CLINICIAN.user_id)["alliance_concerns"]
    assert (shown["flag_id"], shown["client_name"], shown["total"], shown["rules"]) == (
        flag_id, "Ada Lovelace", 35, ["below_threshold"])
    assert "action_taken" not in shown and "reason" not in shown
    # another clinician's notes-due view: not their session
    assert app.notes_due(OTHER_CLINICIAN, OTHER_CLINICIAN.user_id)["alliance_concerns"] == []
    assert app.consume(acknowledged(client_id, flag_id).to_dict()) == "applied"
    assert app.notes_due(CLINICIAN, CLINICIAN.user_id)["alliance_concerns"] == []


def test_another_organisations_concern_never_shows(app):  # noqa: F811
    client_id = registered(app)
    session_id = str(uuid.uuid4())
    app.consume(session_held(client_id, session_id).to_dict())
    _, flagged = concern(client_id, session_id, org="org-2")
    app.consume(flagged.to_dict())
    assert app.notes_due(CLINICIAN, CLINICIAN.user_id)["alliance_concerns"] == []
    assert app.notes_due(OTHER_ORG, OTHER_ORG.user_id)["alliance_concerns"] == []


def dropout_risk(client_id, org="org-1", sequence=1):
    flag_id = str(uuid.uuid4())
    return flag_id, make_event("intake", "DropoutRiskFlagged", {
        "client_id": client_id, "flag_id": flag_id, "concern_flag_ids": [str(uuid.uuid4())],
        "late_cancels": 1, "no_shows": 1, "window_days": 60, "misses_needed": 2,
        "reason": "1 alliance concern(s) and 2 missed sessions", "flagged_at":
        "2026-01-20T09:00:00Z"}, f"dropout-risk-{client_id}", org=org, sequence=sequence)


def test_a_dropout_risk_shows_to_the_client_s_clinicians_until_acknowledged(app):  # noqa: F811
    client_id = registered(app)
    app.consume(session_held(client_id, str(uuid.uuid4())).to_dict())
    flag_id, flagged = dropout_risk(client_id)
    assert app.consume(flagged.to_dict()) == "applied"
    (shown,) = app.notes_due(CLINICIAN, CLINICIAN.user_id)["dropout_risks"]
    assert (shown["flag_id"], shown["client_name"], shown["late_cancels"],
            shown["no_shows"]) == (flag_id, "Ada Lovelace", 1, 1)
    assert app.notes_due(OTHER_CLINICIAN, OTHER_CLINICIAN.user_id)["dropout_risks"] == []
    _, elsewhere = dropout_risk(client_id, org="org-2", sequence=2)
    app.consume(elsewhere.to_dict())
    assert app.notes_due(OTHER_ORG, OTHER_ORG.user_id)["dropout_risks"] == []
    assert app.consume(make_event("intake", "DropoutRiskAcknowledged", {
        "client_id": client_id, "flag_id": flag_id, "acknowledged_by": "clinician-7",
        "acknowledged_at": "2026-01-21T09:00:00Z", "action_taken": "called"},
        f"dropout-risk-{client_id}", sequence=3).to_dict()) == "applied"
    assert app.notes_due(CLINICIAN, CLINICIAN.user_id)["dropout_risks"] == []
