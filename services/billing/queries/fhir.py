"""Billing's part of a client's record as FHIR (adapters/fhir.py): their charges
and invoices, under the same tenancy checks as their balance and invoice list."""
from shared.fhir import searchset
from shared.paging import every_item

from ..adapters import fhir


class FhirQueries:
    def fhir_everything(self, principal, client_id):
        account = self.balance(principal, client_id)  # 404 for a client billing lacks
        invoices = every_item("invoices", lambda page: self.list_invoices(principal, {
            "client_id": str(client_id), "clinic_id": None, "status": None, **page}))
        return searchset(fhir.everything(account["charges"], invoices))
