"""A clinic's reports: receivables aged since issue, revenue and collections by month."""
from sqlalchemy import select

from shared import paging
from shared.timeutil import utc_now

from ..read_models import collections, invoices, revenue

AGEING_BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("over_90", 91, None))


class ReportQueries:
    def receivables(self, principal, clinic_id, query):
        """What clients owe on issued invoices, aged by days since issue (a page of the
        clients; the totals are of all of them)."""
        principal.require_clinic(principal.organisation_id, clinic_id)
        as_of = query["as_of"] or utc_now().date()
        with self.store.read() as conn:
            rows = conn.execute(select(invoices).where(
                invoices.c.organisation_id == principal.organisation_id,
                invoices.c.clinic_id == clinic_id, invoices.c.status == "issued")).all()
        totals, clients = {}, {}
        for row in rows:
            due = row.total_minor - row.paid_minor - row.written_off_minor
            if due <= 0 or row.issued_on > as_of:
                continue
            bucket = ageing_bucket((as_of - row.issued_on).days)
            per_currency = totals.setdefault(row.currency, {b: 0 for b, _, _ in AGEING_BUCKETS})
            per_currency[bucket] += due
            client = clients.setdefault((row.client_id, row.currency),
                                        {b: 0 for b, _, _ in AGEING_BUCKETS})
            client[bucket] += due
        return paging.list_page(
            "clients", [{"client_id": k[0], "currency": k[1], **b,
                         "total_minor": sum(b.values())} for k, b in sorted(clients.items())],
            query, clinic_id=clinic_id, as_of=as_of.isoformat(),
            buckets=[b for b, _, _ in AGEING_BUCKETS],
            totals=[{"currency": c, **b, "total_minor": sum(b.values())}
                    for c, b in sorted(totals.items())])

    def revenue(self, principal, clinic_id, query):
        """Billed charges per clinician and month of service; money in and out per month."""
        principal.require_clinic(principal.organisation_id, clinic_id)

        def in_range(table):
            statement = select(table).where(table.c.organisation_id == principal.organisation_id,
                                            table.c.clinic_id == clinic_id)
            if query.get("from_month"):
                statement = statement.where(table.c.month >= query["from_month"])
            if query.get("to_month"):
                statement = statement.where(table.c.month <= query["to_month"])
            return statement
        with self.store.read() as conn:
            billed = conn.execute(in_range(revenue).order_by(
                revenue.c.month, revenue.c.clinician_id, revenue.c.currency)).all()
            money = conn.execute(in_range(collections).order_by(
                collections.c.month, collections.c.currency)).all()
        months = {}
        for row in billed:
            month = months.setdefault((row.month, row.currency), _month_total(row.month,
                                                                            row.currency))
            month["charged_minor"] += row.charged_minor
            month["charges"] += row.charges
        for row in money:
            month = months.setdefault((row.month, row.currency), _month_total(row.month,
                                                                            row.currency))
            month["collected_minor"] += row.collected_minor
            month["refunded_minor"] += row.refunded_minor
            month["written_off_minor"] += row.written_off_minor
        return {"clinic_id": clinic_id,
                "by_clinician": [{"month": r.month, "clinician_id": r.clinician_id or None,
                                  "currency": r.currency, "charged_minor": r.charged_minor,
                                  "charges": r.charges} for r in billed],
                "by_month": [months[k] for k in sorted(months)]}

def ageing_bucket(days):
    for name, low, high in AGEING_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGEING_BUCKETS[0][0]


def _month_total(month, currency):
    return {"month": month, "currency": currency, "charged_minor": 0, "charges": 0,
            "collected_minor": 0, "refunded_minor": 0, "written_off_minor": 0}


