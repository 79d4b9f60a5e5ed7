"""Money in and out of a client's account: payments (allocated to open invoices,
the rest kept as credit) and refunds of credit."""
import uuid

from shared.timeutil import utc_now

from ..queries.base import client_clinic
from .base import account_command


class PaymentCommands:
    def _clinic_of(self, caller, client_id, command):
        with self.store.read() as conn:
            return client_clinic(conn, caller.principal, client_id, command.get("clinic_id"))

    def receive_payment(self, caller, client_id, command):
        org, clinic = self._clinic_of(caller, client_id, command)
        payment_id = str(uuid.uuid4())
        invoice_id = command.get("invoice_id")
        saved = account_command(
            self.store, caller, org, clinic, client_id,
            lambda account, _uow: account.receive_payment(
                payment_id, command["amount_minor"], command["currency"], command["method"],
                command.get("received_on") or utc_now().date(), command.get("reference"),
                caller.principal.user_id, str(invoice_id) if invoice_id else None))
        (payment,) = [e for e in saved if e.name == "PaymentReceived"]
        return {**payment.data, "clinic_id": clinic,
                "invoices_paid": [e.data["invoice_id"] for e in saved
                                  if e.name == "InvoicePaid"],
                "balance": self.balance(caller.principal, client_id)["balances"]}

    def refund(self, caller, client_id, command):
        org, clinic = self._clinic_of(caller, client_id, command)
        (event,) = account_command(
            self.store, caller, org, clinic, client_id,
            lambda account, _uow: account.refund(
                str(uuid.uuid4()), command["amount_minor"], command["currency"],
                command["method"], command.get("refunded_on") or utc_now().date(),
                command["reason"], caller.principal.user_id))
        return {**event.data, "clinic_id": clinic,
                "balance": self.balance(caller.principal, client_id)["balances"]}
