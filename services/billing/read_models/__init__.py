"""Billing's read models: tables derived only from events (see `make rebuild`).

- settings: fee schedules, billing policies, billing profiles, sliding scales.
- clients: what intake and notes say (clients and their payers through time,
  consents, diagnoses, notes signed).
- charges: sessions and fees charged, held or ready.
- invoices: invoices, their lines, payments.
- ledger: balances, the ledger, revenue and collections.
"""
from sqlalchemy import update

from .base import metadata, projection  # noqa: F401
from .settings import (billing_policies, billing_profiles, fee_schedule_versions,  # noqa: F401
                       fee_schedules, sliding_scales)
from .clients import (billing_client_versions, billing_clients, client_facts,  # noqa: F401
                      consent_history, consent_in_force, diagnoses, erased_clients,
                      note_status)
from .charges import charge_row, charges, describe  # noqa: F401
from .invoices import invoice_lines, invoices, payments  # noqa: F401
from .ledger import client_balances, collections, ledger_entries, revenue  # noqa: F401

# An erased client's rows go but the amounts (ids, codes, dates, money): the clinic's
# totals, receivables and revenue stay whole. What was free text in them is blanked.
projection.erases_clients(keep=(erased_clients, charges, client_balances, ledger_entries,
                                invoices, payments))


@projection.on("ClientErased")
def _blank_free_text(conn, event):
    client_id = str(event.data["client_id"])
    conn.execute(update(invoices).where(invoices.c.client_id == client_id)
                 .values(void_reason=None))
    conn.execute(update(payments).where(payments.c.client_id == client_id)
                 .values(reference=None))
