"""Billing's queries: answers read from the read models, in the caller's tenancy.

- settings: fee schedules, policies, billing profiles
- accounts: a client's balance and ledger
- charges: charges, and what is not billed yet
- invoices: invoices
- reports: receivables, revenue
- superbill: the superbill
- fhir: a client's charges and invoices as FHIR resources
"""
from .accounts import AccountQueries
from .charges import ChargeQueries
from .fhir import FhirQueries
from .invoices import InvoiceQueries
from .reports import ReportQueries
from .settings import SettingsQueries
from .superbill import SuperbillQueries


class BillingQueries(SettingsQueries, AccountQueries, ChargeQueries, InvoiceQueries,
                     ReportQueries, SuperbillQueries, FhirQueries):
    """Mixed into BillingApplication: reads only, never appends."""
