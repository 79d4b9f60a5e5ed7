"""A client's care team as intake decides it: clinicians an admin adds or takes
off, and break-glass access (a stated reason, for a limited time). Who else
cares for the client (primary clinician, sessions, supervision) follows from
other events (shared/care_team.py)."""
from datetime import timedelta

from shared.envelope import NewEvent
from shared.errors import InvalidInput, NotFound
from shared.timeutil import iso, parse_time

REASON_MAX = 500
DEFAULT_BREAK_GLASS_MINUTES = 60


def add_member(client, clinician_id, added_by, added_at):
    client.require_registered()
    if clinician_id in client.care_team:
        return []  # already on the team: nothing changes
    return [NewEvent("CareTeamMemberAdded", {
        "client_id": client.client_id, "clinician_id": clinician_id, "added_by": added_by,
        "added_at": added_at})]


def remove_member(client, clinician_id, removed_by, removed_at):
    client.require_registered()
    if clinician_id not in client.care_team:
        raise NotFound(f"clinician {clinician_id!r} was not added to this client's care team")
    return [NewEvent("CareTeamMemberRemoved", {
        "client_id": client.client_id, "clinician_id": clinician_id,
        "removed_by": removed_by, "removed_at": removed_at})]


def grant_break_glass(client, clinician_id, reason, granted_at, minutes):
    client.require_registered()
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput("break-glass needs a reason", {
            "reason": [f"say why, in 1 to {REASON_MAX} characters"]})
    expires_at = iso(parse_time(granted_at) + timedelta(minutes=minutes))
    return [NewEvent("BreakGlassAccessGranted", {
        "client_id": client.client_id, "clinician_id": clinician_id, "reason": reason,
        "granted_at": granted_at, "expires_at": expires_at})]
