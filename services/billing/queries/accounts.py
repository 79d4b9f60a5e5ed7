"""A client's account: balances, charges and the ledger."""
from sqlalchemy import select

from shared import paging
from shared.errors import NotFound

from ..read_models import charges, client_balances, ledger_entries
from .base import charge_view, client_clinics, day_of, visible


class AccountQueries:
    def balance(self, principal, client_id):
        """A client's charges and what they owe, in the clinics the caller sees."""
        principal.require_own_record(client_id)
        client_id = str(client_id)
        with self.store.read() as conn:
            charge_rows = conn.execute(visible(
                select(charges).where(charges.c.client_id == client_id)
                .order_by(charges.c.service_date, charges.c.charge_id),
                charges, principal)).all()
            balance_rows = conn.execute(visible(
                select(client_balances).where(client_balances.c.client_id == client_id)
                .order_by(client_balances.c.clinic_id, client_balances.c.currency),
                client_balances, principal)).all()
        if not charge_rows and not balance_rows:
            raise NotFound("client has no charges")
        clinics = sorted({r.clinic_id for r in charge_rows} | {r.clinic_id for r in balance_rows})
        currencies = sorted({r.currency for r in charge_rows if r.currency is not None}
                            | {r.currency for r in balance_rows})
        single = len(clinics) == 1 and len(currencies) <= 1
        return {
            "client_id": client_id, "organisation_id": principal.organisation_id,
            # One clinic and currency is the normal case; otherwise read `balances`.
            "clinic_id": clinics[0] if len(clinics) == 1 else None,
            "currency": currencies[0] if single and currencies else None,
            "balance_minor": sum(r.balance_minor for r in balance_rows) if single else None,
            "credit_minor": sum(r.credit_minor for r in balance_rows) if single else None,
            "balances": [{"clinic_id": r.clinic_id, "currency": r.currency,
                          "balance_minor": r.balance_minor, "charges": r.charges,
                          "charged_minor": r.charged_minor, "paid_minor": r.paid_minor,
                          "refunded_minor": r.refunded_minor,
                          "written_off_minor": r.written_off_minor,
                          "credit_minor": r.credit_minor}
                         for r in balance_rows],
            "charges": [charge_view(r._asdict()) for r in charge_rows],
        }

    def ledger(self, principal, client_id, query):
        """Every amount owed or paid, oldest first, with the running balance (a page of
        the entries; the balances are of all of them)."""
        principal.require_own_record(client_id)
        with self.store.read() as conn:
            clinics = client_clinics(conn, principal, client_id)
            if not clinics:
                raise NotFound("client not found")
            rows = conn.execute(
                select(ledger_entries).where(
                    ledger_entries.c.organisation_id == principal.organisation_id,
                    ledger_entries.c.clinic_id.in_(clinics),
                    ledger_entries.c.client_id == client_id)
                .order_by(ledger_entries.c.occurred_on, ledger_entries.c.recorded_at,
                          ledger_entries.c.entry_id)).all()
        running, entries = {}, []
        for row in rows:
            key = (row.clinic_id, row.currency)
            running[key] = running.get(key, 0) + row.amount_minor
            entries.append({"date": day_of(row.occurred_on), "kind": row.kind,
                            "description": row.description, "amount_minor": row.amount_minor,
                            "currency": row.currency, "clinic_id": row.clinic_id,
                            "reference_id": row.reference_id, "balance_minor": running[key]})
        return paging.list_page(
            "entries", entries, query, client_id=client_id,
            balances=[{"clinic_id": c, "currency": cur, "balance_minor": b}
                      for (c, cur), b in sorted(running.items())])

