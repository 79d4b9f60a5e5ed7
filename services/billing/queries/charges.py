"""Charges: a clinic's list, one charge, and what is not billed yet."""
from sqlalchemy import func, select

from shared import care_team, paging

from ..read_models import charges
from .base import charge_view, visible_row


class ChargeQueries:
    def list_charges(self, principal, query):
        principal.require_clinic(principal.organisation_id, query["clinic_id"])
        statement = (select(charges)
                     .where(charges.c.organisation_id == principal.organisation_id,
                            charges.c.clinic_id == query["clinic_id"],
                            care_team.visible(principal, charges.c.client_id))
                     .order_by(charges.c.service_date, charges.c.charge_id))
        if query["client_id"] is not None:
            statement = statement.where(charges.c.client_id == str(query["client_id"]))
        if query.get("status") is not None:
            statement = statement.where(charges.c.status == query["status"])
        with self.store.read() as conn:
            rows = conn.execute(statement.limit(query["limit"] + 1)
                                .offset(query["offset"])).all()
            total = conn.execute(select(func.count()).select_from(
                statement.order_by(None).subquery())).scalar()
        return paging.offset_page("charges", [charge_view(r._asdict()) for r in rows],
                                  query["limit"], query["offset"], total)

    def charge(self, principal, charge_id):
        with self.store.read() as conn:
            row = visible_row(conn, charges, "charge_id", charge_id, principal, "charge")
        return charge_view(row._asdict())

    def unbilled(self, principal, clinic_id, query):
        """Billable charges on no invoice yet, oldest first: ready ones, and held ones
        with why (a page holds both)."""
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            rows, more = paging.trimmed(paging.fetch_page(conn, select(charges).where(
                charges.c.organisation_id == principal.organisation_id,
                charges.c.clinic_id == clinic_id, charges.c.billable.is_(True),
                charges.c.invoice_id.is_(None))
                .order_by(charges.c.service_date, charges.c.charge_id), query), query["limit"])
        views = [charge_view(r._asdict()) for r in rows]
        return paging.page("ready", [v for v in views if v["status"] == "ready"],
                           query["limit"], query["offset"] + len(rows) if more else None,
                           held=[v for v in views if v["status"] == "held"],
                           offset=query["offset"], clinic_id=clinic_id)

