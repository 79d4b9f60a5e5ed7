"""A client's erasure: carried out on request unless the clinical record is retained.

Retention runs from the discharge that ended the client's last episode of care (the
end of treatment, from which records-retention rules count): while an episode is
open the record is in use and is retained; after the last discharge it is retained
for the organisation's retention years. An organisation whose policy erases on
request anyway (erasure_during_retention) is not refused.
"""
from shared.envelope import NewEvent
from shared.timeutil import parse_date


def retained_until(client, retention_years, today):
    """(retained, until): until is the last day of retention, None while in care."""
    episode = client.episode
    if episode is None or episode.is_open:
        return True, None
    discharged = parse_date(episode.discharged_at[:10])
    until = _years_after(discharged, retention_years)
    return until > today, until


def request_erasure(client, request_id, legal_basis, reason, requested_by, now, policy):
    """The request, then ClientErased or ClientErasureRefused. A second request of an
    erased client finds no client (its read-model row is gone): 404 before here."""
    client.require_registered()
    asked = NewEvent("ClientErasureRequested", {
        "client_id": client.client_id, "request_id": request_id,
        "legal_basis": legal_basis, "reason": reason, "requested_by": requested_by,
        "requested_at": now})
    retained, until = retained_until(client, policy.retention_years, parse_date(now[:10]))
    if retained and not policy.during_retention:
        return [asked, NewEvent("ClientErasureRefused", {
            "client_id": client.client_id, "request_id": request_id,
            "retained_until": until and until.isoformat(), "refused_at": now})]
    return [asked, NewEvent("ClientErased", {
        "client_id": client.client_id, "request_id": request_id,
        "legal_basis": legal_basis, "erased_at": now, "erased_by": requested_by})]


def _years_after(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return day.replace(year=day.year + years, day=28)
