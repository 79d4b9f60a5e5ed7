"""intake's open dropout risks in a clinician's notes-due view: clients whose sessions
this clinician held."""
from sqlalchemy import select

from shared.timeutil import iso

from ..read_models import chart_sessions, clients
from ..read_models.dropout import dropout_risks


def open_dropout_risks(conn, principal, clinician_id, clinics):
    d = dropout_risks.c
    theirs = select(chart_sessions.c.client_id).where(
        chart_sessions.c.organisation_id == principal.organisation_id,
        chart_sessions.c.clinician_id == clinician_id)
    statement = (select(d.flag_id, d.client_id, d.late_cancels, d.no_shows, d.flagged_at,
                        clients.c.name.label("client_name"))
                 .outerjoin(clients, (clients.c.client_id == d.client_id)
                            & (clients.c.organisation_id == d.organisation_id))
                 .where(d.organisation_id == principal.organisation_id,
                        d.acknowledged_at.is_(None), d.client_id.in_(theirs))
                 .order_by(d.flagged_at, d.flag_id))
    if clinics is not None:
        statement = statement.where(d.clinic_id.in_(clinics))
    return [{"flag_id": r.flag_id, "client_id": r.client_id, "client_name": r.client_name,
             "late_cancels": r.late_cancels, "no_shows": r.no_shows,
             "flagged_at": iso(r.flagged_at)} for r in conn.execute(statement)]
