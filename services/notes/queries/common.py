"""What every query of notes shares: finding the client (commands check it too), the
client's rows in the caller's reach, turning rows into JSON."""
import json

from sqlalchemy import select

from shared import paging
from shared.timeutil import iso

from ..read_models import clients


def client_row(conn, client_id):
    row = conn.execute(select(clients).where(clients.c.client_id == str(client_id))).first()
    return row._asdict() if row else None


def visible_client(principal, conn, client_id):
    """The client's row, or 404 for an unknown client or another tenant's; a client
    token reaches its own record only."""
    principal.require_own_record(client_id)
    return principal.require_visible(client_row(conn, client_id), "client")


def tenant_rows(conn, principal, table, record, *order, where=(), page=None):
    """Rows of `table` about the client, in the client's organisation and the clinics the
    caller may see (rows carry their own envelope's tenancy); one page of them when
    `page` is a PageQuery's (paging.offset_page)."""
    query = (select(table)
             .where(table.c.client_id == record["client_id"],
                    table.c.organisation_id == record["organisation_id"], *where)
             .order_by(*order))
    clinics = principal.clinic_filter()
    if clinics is not None:
        query = query.where(table.c.clinic_id.in_(clinics))
    rows = paging.fetch_page(conn, query, page) if page else conn.execute(query)
    return [r._asdict() for r in rows]


def client_view(record):
    return {key: record[key] for key in ("client_id", "name", "organisation_id", "clinic_id")}


def time_or_none(value):
    return iso(value) if value is not None else None


def date_or_none(value):
    return value.isoformat() if value is not None else None


def json_or_none(value):
    return json.loads(value) if value is not None else None
