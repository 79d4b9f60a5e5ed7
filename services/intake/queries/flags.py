"""A clinic's list of flags (risk flags, alliance concerns): open until a clinician
acknowledges them; one query for every kind of flag."""
from sqlalchemy import select

from shared import care_team, paging

from ..read_models import clients


def clinic_flags(store, principal, clinic_id, query, table, flagged_at, name, view):
    statement = (select(table, clients.c.name)
                 .join(clients, clients.c.client_id == table.c.client_id)
                 .where(table.c.organisation_id == principal.organisation_id,
                        table.c.clinic_id == clinic_id,
                        care_team.visible(principal, table.c.client_id))
                 .order_by(flagged_at, table.c.flag_id))
    if query["status"] == "open":
        statement = statement.where(table.c.acknowledged_at.is_(None))
    elif query["status"] == "acknowledged":
        statement = statement.where(table.c.acknowledged_at.is_not(None))
    with store.read() as conn:
        rows = paging.fetch_page(conn, statement, query)
    return paging.offset_page(name, [view(r._asdict()) for r in rows],
                              query["limit"], query["offset"])
