"""Billing's part of a client's record as FHIR (adapters/fhir.py): their charges
and invoices, under the same tenancy checks as their balance and invoice list."""
from shared.fhir import searchset
from shared.paging import MAX_LIMIT

from ..adapters import fhir


class FhirQueries:
    def fhir_everything(self, principal, client_id):
        account = self.balance(principal, client_id)  # 404 for a client billing lacks
        invoices, offset = [], 0
        while offset is not None:
            page = self.list_invoices(principal, {
                "client_id": str(client_id), "clinic_id": None, "status": None,
                "limit": MAX_LIMIT, "offset": offset})
            invoices += page["invoices"]
            offset = page["next"]
        return searchset(fhir.everything(account["charges"], invoices))
