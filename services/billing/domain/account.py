"""A client's account at a clinic: invoices, payments, credit, refunds, write-offs.

One stream per client and clinic, so every rule about the money (never refund
more than the credit, never write off more than is due) is decided on one
consistent state. Charges stay in their own streams; an invoice lists them.

Decisions return the events they take and change nothing: the repository applies
them on save (shared/aggregate.py), so a command that decides twice (draft, then
issue) saves twice.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput, NotFound


def _day(value):
    return value if isinstance(value, date) else date.fromisoformat(value)


@dataclass
class Invoice:
    invoice_id: str
    status: str
    total_minor: int
    charge_ids: tuple
    period_start: date
    period_end: date
    currency: str
    paid_minor: int = 0          # payments allocated and credit applied
    written_off_minor: int = 0
    issued_on: date = None
    due_on: date = None

    @property
    def due_minor(self):
        return self.total_minor - self.paid_minor - self.written_off_minor

    @property
    def open(self):
        return self.status == "issued" and self.due_minor > 0


@dataclass
class ClientAccount(Aggregate):
    STREAM = "account-{}/{}/{}"  # organisation, clinic, client
    organisation_id: str
    clinic_id: str
    client_id: str
    currency: str = None
    credit_minor: int = 0
    invoices: dict = field(default_factory=dict)

    # -- state ----------------------------------------------------------------
    def _on_InvoiceDrafted(self, event, data):
        self.currency = self.currency or data["currency"]
        self.invoices[data["invoice_id"]] = Invoice(
            data["invoice_id"], "draft", data["total_minor"],
            tuple(line["charge_id"] for line in data["lines"]),
            _day(data["period_start"]), _day(data["period_end"]), data["currency"])

    def _on_InvoiceIssued(self, event, data):
        invoice = self.invoices[data["invoice_id"]]
        invoice.status = "issued"
        invoice.issued_on, invoice.due_on = _day(data["issued_on"]), _day(data["due_on"])

    def _on_CreditApplied(self, event, data):
        self.credit_minor -= data["amount_minor"]
        self.invoices[data["invoice_id"]].paid_minor += data["amount_minor"]

    def _on_InvoicePaid(self, event, data):
        self.invoices[data["invoice_id"]].status = "paid"

    def _on_InvoiceVoided(self, event, data):
        self.invoices[data["invoice_id"]].status = "void"
        self.credit_minor += data["credit_returned_minor"]

    def _on_PaymentReceived(self, event, data):
        self.currency = self.currency or data["currency"]
        for allocation in data["allocations"]:
            self.invoices[allocation["invoice_id"]].paid_minor += allocation["amount_minor"]
        self.credit_minor += data["credit_minor"]

    def _on_RefundIssued(self, event, data):
        self.credit_minor -= data["amount_minor"]

    def _on_WrittenOff(self, event, data):
        self.invoices[data["invoice_id"]].written_off_minor += data["amount_minor"]

    def invoice(self, invoice_id):
        invoice = self.invoices.get(str(invoice_id))
        if invoice is None:
            raise NotFound("invoice not found")
        return invoice

    def open_invoices(self):
        """Issued invoices with something due, oldest first."""
        issued = [i for i in self.invoices.values() if i.open]
        return sorted(issued, key=lambda i: i.issued_on)

    @property
    def due_minor(self):
        return sum(i.due_minor for i in self.invoices.values() if i.status == "issued")

    def _check_currency(self, currency):
        if self.currency is not None and currency != self.currency:
            raise InvalidInput(f"this account is kept in {self.currency}",
                               {"currency": [f"must be {self.currency}"]})

    # -- invoices -------------------------------------------------------------
    def draft_invoice(self, invoice_id, charges, period_start, period_end):
        """InvoiceDrafted of unbilled charges: dicts with charge_id, service_date,
        code, description, amount_minor, currency."""
        if not charges:
            raise Conflict("the client has no unbilled charges in that period",
                           {"period": ["nothing to invoice"]})
        currencies = {c["currency"] for c in charges}
        if len(currencies) != 1:
            raise Conflict("charges in more than one currency cannot share an invoice",
                           {"currency": sorted(currencies)})
        (currency,) = currencies
        if self.currency is not None and currency != self.currency:
            raise Conflict(f"charges in {currency} cannot go on an account kept in "
                           f"{self.currency}", {"currency": [f"must be {self.currency}"]})
        if _day(period_end) < _day(period_start):
            raise InvalidInput("the period ends before it starts",
                               {"period_end": ["must not be before period_start"]})
        invoiced = {cid for i in self.invoices.values() if i.status != "void"
                    for cid in i.charge_ids}
        twice = sorted(c["charge_id"] for c in charges if c["charge_id"] in invoiced)
        if twice:
            raise Conflict("charges already invoiced", {"charges": twice})
        lines = [{"charge_id": c["charge_id"], "service_date": str(c["service_date"]),
                  "code": c["code"], "description": c["description"],
                  "amount_minor": c["amount_minor"]}
                 for c in sorted(charges, key=lambda c: (str(c["service_date"]), c["charge_id"]))]
        return [NewEvent("InvoiceDrafted", {
            "invoice_id": invoice_id, "client_id": self.client_id,
            "period_start": str(period_start), "period_end": str(period_end),
            "currency": currency, "lines": lines,
            "total_minor": sum(line["amount_minor"] for line in lines)})]

    def issue(self, invoice_id, issued_on, payment_terms_days):
        invoice = self.invoice(invoice_id)
        if invoice.status != "draft":
            raise Conflict(f"invoice is {invoice.status}; only a draft can be issued",
                           {"status": [invoice.status]})
        issued_on = _day(issued_on)
        events = [NewEvent("InvoiceIssued", {
            "invoice_id": invoice.invoice_id, "client_id": self.client_id,
            "issued_on": issued_on.isoformat(),
            "due_on": (issued_on + timedelta(days=payment_terms_days)).isoformat(),
            "total_minor": invoice.total_minor, "currency": invoice.currency})]
        applied = min(self.credit_minor, invoice.due_minor)
        if applied > 0:
            events.append(NewEvent("CreditApplied", {
                "invoice_id": invoice.invoice_id, "client_id": self.client_id,
                "amount_minor": applied, "currency": invoice.currency}))
        return events + self._settle(invoice, invoice.due_minor - max(applied, 0), issued_on)

    def _settle(self, invoice, due_after, on):
        """InvoicePaid when what the events before it leave due on an issued invoice is 0."""
        if due_after == 0:
            return [NewEvent("InvoicePaid", {
                "invoice_id": invoice.invoice_id, "client_id": self.client_id,
                "paid_on": _day(on).isoformat()})]
        return []

    def void(self, invoice_id, reason, voided_by):
        invoice = self.invoice(invoice_id)
        if invoice.status == "void":
            raise Conflict("invoice is void already", {"status": ["void"]})
        return [NewEvent("InvoiceVoided", {
            "invoice_id": invoice.invoice_id, "client_id": self.client_id, "reason": reason,
            "credit_returned_minor": invoice.paid_minor, "voided_by": voided_by})]

    # -- money in and out -----------------------------------------------------
    def receive_payment(self, payment_id, amount_minor, currency, method, received_on,
                        reference, recorded_by, invoice_id=None):
        """Allocate to the named invoice, then to open invoices oldest first; the rest
        is credit."""
        self._check_currency(currency)
        targets = self.open_invoices()
        if invoice_id is not None:
            chosen = self.invoice(invoice_id)
            if not chosen.open:
                raise Conflict(f"invoice is {chosen.status} with {chosen.due_minor} due; "
                               "a payment goes to an issued invoice with something due",
                               {"invoice_id": [chosen.status]})
            targets = [chosen] + [i for i in targets if i is not chosen]
        left, allocations, settled = amount_minor, [], []
        for invoice in targets:
            share = min(left, invoice.due_minor)
            if share > 0:
                allocations.append({"invoice_id": invoice.invoice_id, "amount_minor": share})
                settled += self._settle(invoice, invoice.due_minor - share, received_on)
                left -= share
        return [NewEvent("PaymentReceived", {
            "payment_id": payment_id, "client_id": self.client_id, "method": method,
            "amount_minor": amount_minor, "currency": currency,
            "received_on": _day(received_on).isoformat(), "reference": reference,
            "allocations": allocations, "credit_minor": left, "recorded_by": recorded_by}),
            *settled]

    def refund(self, refund_id, amount_minor, currency, method, refunded_on, reason,
               recorded_by):
        self._check_currency(currency)
        if amount_minor > self.credit_minor:
            raise Conflict(f"a refund cannot exceed the client's credit of "
                           f"{self.credit_minor}", {"amount_minor": ["more than the credit"]})
        return [NewEvent("RefundIssued", {
            "refund_id": refund_id, "client_id": self.client_id, "amount_minor": amount_minor,
            "currency": currency, "method": method,
            "refunded_on": _day(refunded_on).isoformat(), "reason": reason,
            "recorded_by": recorded_by})]

    def write_off(self, write_off_id, invoice_id, amount_minor, written_off_on, reason,
                  recorded_by):
        invoice = self.invoice(invoice_id)
        if invoice.status != "issued":
            raise Conflict(f"invoice is {invoice.status}; only an issued invoice is written "
                           "off", {"invoice_id": [invoice.status]})
        if amount_minor is None:
            amount_minor = invoice.due_minor
        if not 0 < amount_minor <= invoice.due_minor:
            raise Conflict(f"{invoice.due_minor} is due on the invoice; a write-off is more "
                           "than 0 and at most that", {"amount_minor": ["out of range"]})
        return [NewEvent("WrittenOff", {
            "write_off_id": write_off_id, "invoice_id": invoice.invoice_id,
            "client_id": self.client_id, "amount_minor": amount_minor,
            "currency": invoice.currency, "written_off_on": _day(written_off_on).isoformat(),
            "reason": reason, "recorded_by": recorded_by}),
            *self._settle(invoice, invoice.due_minor - amount_minor, written_off_on)]
