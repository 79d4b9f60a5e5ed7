"""Invoices: one, or a clinic's or a client's list by status."""
from sqlalchemy import func, select

from shared import paging

from ..read_models import invoice_lines, invoices
from .base import invoice_view, visible, visible_row

REPORT_ROLES = ("admin", "billing")  # a clinic's whole invoice list is a report


class InvoiceQueries:
    def invoice(self, principal, invoice_id):
        with self.store.read() as conn:
            row = visible_row(conn, invoices, "invoice_id", invoice_id, principal, "invoice")
            principal.require_own_record(row.client_id)
            lines = conn.execute(select(invoice_lines).where(
                invoice_lines.c.invoice_id == row.invoice_id)
                .order_by(invoice_lines.c.position)).all()
        return invoice_view(row, lines)

    def list_invoices(self, principal, query):
        """Invoices of a clinic (or of one client), by status."""
        client_id = query.get("client_id")
        if client_id is not None:
            principal.require_own_record(client_id)
        else:
            principal.require_role(*REPORT_ROLES)
        statement = select(invoices).order_by(invoices.c.drafted_at, invoices.c.invoice_id)
        if query.get("clinic_id"):
            principal.require_clinic(principal.organisation_id, query["clinic_id"])
            statement = statement.where(invoices.c.clinic_id == query["clinic_id"])
        if client_id is not None:
            statement = statement.where(invoices.c.client_id == str(client_id))
        if query.get("status"):
            statement = statement.where(invoices.c.status == query["status"])
        statement = visible(statement, invoices, principal)
        with self.store.read() as conn:
            fetched = conn.execute(statement.limit(query["limit"] + 1)
                                   .offset(query["offset"])).all()
            rows, _ = paging.trimmed(fetched, query["limit"])
            total = conn.execute(select(func.count()).select_from(
                statement.order_by(None).subquery())).scalar()
            lines = {}
            for line in conn.execute(select(invoice_lines).where(
                    invoice_lines.c.invoice_id.in_([r.invoice_id for r in rows]))
                    .order_by(invoice_lines.c.position)).all():
                lines.setdefault(line.invoice_id, []).append(line)
        counts = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        views = [invoice_view(r, lines.get(r.invoice_id, [])) for r in fetched]
        return paging.offset_page("invoices", views, query["limit"], query["offset"], total,
                                  by_status=counts)

