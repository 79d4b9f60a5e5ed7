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
