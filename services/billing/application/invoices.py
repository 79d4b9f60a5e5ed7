"""Invoices: drafted from a client's unbilled charges (or one per charge, where the
clinic invoices per session), issued, voided, written off."""
import uuid

from sqlalchemy import select

from shared.timeutil import utc_now

from ..domain import ClientAccount, ClinicPolicy, fees
from ..queries.base import client_clinic, visible_row
from ..read_models import charge_row, charges, describe, invoices
from .base import account_command, read_locked


def invoiceable(row):
    return {"charge_id": row.charge_id, "service_date": row.service_date.isoformat(),
            "code": row.code, "description": describe(row), "amount_minor": row.amount_minor,
            "currency": row.currency}


class InvoiceCommands:
    def invoice_per_session(self, uow, context, charge_id):
        """A clinic invoicing per session issues an invoice as soon as a charge is ready."""
        row = charge_row(read_locked(uow), charge_id)
        if not (row.billable and row.status == "ready" and row.amount_minor > 0
                and row.invoice_id is None):
            return
        policy = uow.get(ClinicPolicy, row.organisation_id, row.clinic_id).policy
        if policy.invoice_per != "session":
            return
        account = uow.get(ClientAccount, row.organisation_id, row.clinic_id, row.client_id)
        invoice_id = fees.deterministic_id("Invoice", charge_id)
        uow.save(account, context, account.draft_invoice(
            invoice_id, [invoiceable(row)], row.service_date, row.service_date))
        uow.save(account, context, account.issue(invoice_id, utc_now().date(),
                                                 policy.payment_terms_days))

    def draft_invoice(self, caller, client_id, command):
        with self.store.read() as conn:
            org, clinic = client_clinic(conn, caller.principal, client_id,
                                        command.get("clinic_id"))
        invoice_id = str(uuid.uuid4())
        context = caller.context(org, clinic)
        with self.store.unit_of_work() as uow:
            account = uow.get(ClientAccount, org, clinic, client_id)
            rows = read_locked(uow).execute(select(charges).where(
                charges.c.client_id == client_id, charges.c.organisation_id == org,
                charges.c.clinic_id == clinic, charges.c.billable.is_(True),
                charges.c.status == "ready", charges.c.invoice_id.is_(None),
                charges.c.amount_minor > 0,
                charges.c.service_date >= command["period_start"],
                charges.c.service_date <= command["period_end"])).all()
            uow.save(account, context, account.draft_invoice(
                invoice_id, [invoiceable(r) for r in rows], command["period_start"],
                command["period_end"]))
            if command.get("issue"):
                policy = uow.get(ClinicPolicy, org, clinic).policy
                uow.save(account, context, account.issue(invoice_id, utc_now().date(),
                                                         policy.payment_terms_days))
        return self.invoice(caller.principal, invoice_id)

    def _invoice_command(self, caller, invoice_id, decide):
        with self.store.read() as conn:  # only which account: the decision loads it
            row = visible_row(conn, invoices, "invoice_id", invoice_id, caller.principal,
                              "invoice")
        account_command(self.store, caller, row.organisation_id, row.clinic_id, row.client_id,
                        decide)
        return self.invoice(caller.principal, invoice_id)

    def issue_invoice(self, caller, invoice_id):
        def decide(account, uow):
            policy = uow.get(ClinicPolicy, account.organisation_id, account.clinic_id).policy
            return account.issue(invoice_id, utc_now().date(), policy.payment_terms_days)
        return self._invoice_command(caller, invoice_id, decide)

    def void_invoice(self, caller, invoice_id, command):
        return self._invoice_command(caller, invoice_id, lambda account, _uow: account.void(
            invoice_id, command["reason"], caller.principal.user_id))

    def write_off(self, caller, invoice_id, command):
        return self._invoice_command(caller, invoice_id, lambda account, _uow: account.write_off(
            str(uuid.uuid4()), invoice_id, command.get("amount_minor"),
            command.get("written_off_on") or utc_now().date(), command["reason"],
            caller.principal.user_id))
