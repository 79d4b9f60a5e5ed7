"""Billing's nameko service: maps HTTP, RPC and events onto BillingApplication."""
from werkzeug.wrappers import Response

from shared.consumer import subscribers
from shared.paging import PageQuery
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier, rpc
from shared.web import caller_of, http, load_body, load_query, principal_of

from .adapters import superbill_pdf
from .application import BillingApplication
from .schemas import (AddOnSchema, ChargesQuery, DraftInvoiceSchema, FeeScheduleSchema,
                      InvoicesQuery, PaymentSchema, PolicySchema, ProfileSchema,
                      ReceivablesQuery, RefundSchema, RevenueQuery, SlidingScaleSchema,
                      SuperbillQuery, VoidSchema, WriteOffSchema)


# Other services' events: a handler per producer, from its subscription table.
class Service(CommonEndpoints, subscribers(BillingApplication.subscriptions)):
    name = "billing"
    praxis = Praxis(BillingApplication)
    verify = TokenVerifier()

    # -- clinic configuration -----------------------------------------------------
    @http("PUT", "/clinics/<clinic_id>/fee-schedule", resource="fee_schedule")
    def set_fee_schedule(self, request, clinic_id):
        command = load_body(request, FeeScheduleSchema())
        return self.praxis.set_fee_schedule(caller_of(request), clinic_id, command)

    @http("GET", "/clinics/<clinic_id>/fee-schedule", resource="fee_schedule")
    def get_fee_schedule(self, request, clinic_id):
        return self.praxis.fee_schedule(principal_of(request), clinic_id)

    @http("PUT", "/clinics/<clinic_id>/billing-policy", resource="billing_policy")
    def set_policy(self, request, clinic_id):
        command = load_body(request, PolicySchema())
        return self.praxis.set_policy(caller_of(request), clinic_id, command)

    @http("GET", "/clinics/<clinic_id>/billing-policy", resource="billing_policy")
    def get_policy(self, request, clinic_id):
        return self.praxis.policy(principal_of(request), clinic_id)

    @http("PUT", "/clinics/<clinic_id>/billing-profile", resource="billing_profile")
    def set_clinic_profile(self, request, clinic_id):
        command = load_body(request, ProfileSchema())
        return self.praxis.set_profile(caller_of(request), clinic_id, None, command)

    @http("PUT", "/clinics/<clinic_id>/clinicians/<clinician_id>/billing-profile", resource="billing_profile")
    def set_clinician_profile(self, request, clinic_id, clinician_id):
        command = load_body(request, ProfileSchema())
        return self.praxis.set_profile(caller_of(request), clinic_id, clinician_id, command)

    @http("GET", "/clinics/<clinic_id>/billing-profiles", resource="billing_profile")
    def get_profiles(self, request, clinic_id):
        return self.praxis.profiles(principal_of(request), clinic_id)

    @http("PUT", "/clients/<uuid:client_id>/sliding-scale", resource="sliding_scale")
    def set_sliding_scale(self, request, client_id):
        command = load_body(request, SlidingScaleSchema())
        return self.praxis.set_sliding_scale(caller_of(request), str(client_id), command)

    # -- charges --------------------------------------------------------------------
    @http("GET", "/clients/<uuid:client_id>/balance", resource="balance")
    def get_balance(self, request, client_id):
        return self.praxis.balance(principal_of(request), str(client_id))

    @http("GET", "/clients/<uuid:client_id>/ledger", resource="ledger")
    def get_ledger(self, request, client_id):
        return self.praxis.ledger(principal_of(request), str(client_id),
                                  load_query(request, PageQuery()))

    @http("GET", "/fhir/Patient/<uuid:client_id>/$everything", resource="fhir_record")
    def fhir_everything(self, request, client_id):
        return self.praxis.fhir_everything(principal_of(request), str(client_id))

    @http("GET", "/charges", resource="billing_report")
    def list_charges(self, request):
        return self.praxis.list_charges(principal_of(request), load_query(request, ChargesQuery()))

    @http("GET", "/charges/<uuid:charge_id>", resource="charge")
    def get_charge(self, request, charge_id):
        return self.praxis.charge(principal_of(request), str(charge_id))

    @http("POST", "/charges/<uuid:charge_id>/add-ons", resource="charge")
    def add_on(self, request, charge_id):
        command = load_body(request, AddOnSchema())
        return 201, self.praxis.add_on(caller_of(request), str(charge_id), command)

    @http("GET", "/clinics/<clinic_id>/unbilled", resource="billing_report")
    def unbilled(self, request, clinic_id):
        return self.praxis.unbilled(principal_of(request), clinic_id,
                                    load_query(request, PageQuery()))

    # -- invoices and money -----------------------------------------------------------
    @http("POST", "/clients/<uuid:client_id>/invoices", resource="invoice")
    def draft_invoice(self, request, client_id):
        command = load_body(request, DraftInvoiceSchema())
        return 201, self.praxis.draft_invoice(caller_of(request), str(client_id), command)

    @http("GET", "/invoices", resource="invoice")
    def list_invoices(self, request):
        return self.praxis.list_invoices(principal_of(request),
                                         load_query(request, InvoicesQuery()))

    @http("GET", "/invoices/<uuid:invoice_id>", resource="invoice")
    def get_invoice(self, request, invoice_id):
        return self.praxis.invoice(principal_of(request), str(invoice_id))

    @http("POST", "/invoices/<uuid:invoice_id>/issue", resource="invoice")
    def issue_invoice(self, request, invoice_id):
        return self.praxis.issue_invoice(caller_of(request), str(invoice_id))

    @http("POST", "/invoices/<uuid:invoice_id>/void", resource="invoice")
    def void_invoice(self, request, invoice_id):
        command = load_body(request, VoidSchema())
        return self.praxis.void_invoice(caller_of(request), str(invoice_id), command)

    @http("POST", "/invoices/<uuid:invoice_id>/write-offs", resource="invoice")
    def write_off(self, request, invoice_id):
        command = load_body(request, WriteOffSchema())
        return 201, self.praxis.write_off(caller_of(request), str(invoice_id), command)

    @http("POST", "/clients/<uuid:client_id>/payments", resource="payment")
    def receive_payment(self, request, client_id):
        command = load_body(request, PaymentSchema())
        return 201, self.praxis.receive_payment(caller_of(request), str(client_id), command)

    @http("POST", "/clients/<uuid:client_id>/refunds", resource="payment", action="refund")
    def refund(self, request, client_id):
        command = load_body(request, RefundSchema())
        return 201, self.praxis.refund(caller_of(request), str(client_id), command)

    # -- reports --------------------------------------------------------------------
    @http("GET", "/clinics/<clinic_id>/receivables", resource="billing_report")
    def receivables(self, request, clinic_id):
        return self.praxis.receivables(principal_of(request), clinic_id,
                                       load_query(request, ReceivablesQuery()))

    @http("GET", "/clinics/<clinic_id>/revenue", resource="billing_report")
    def revenue(self, request, clinic_id):
        return self.praxis.revenue(principal_of(request), clinic_id,
                                   load_query(request, RevenueQuery()))

    @http("GET", "/clients/<uuid:client_id>/superbill", resource="superbill")
    def superbill(self, request, client_id):
        return self.praxis.superbill(principal_of(request), str(client_id),
                                     load_query(request, SuperbillQuery()))

    @http("GET", "/clients/<uuid:client_id>/superbill.pdf", resource="superbill")
    def superbill_pdf(self, request, client_id):
        bill = self.praxis.superbill(principal_of(request), str(client_id),
                                     load_query(request, SuperbillQuery()))
        name = f"superbill-{client_id}-{bill['period_start']}-{bill['period_end']}.pdf"
        return Response(superbill_pdf.render(bill), mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @rpc(resource="balance")
    def balance(self, token, client_id):
        """RPC twin of GET /clients/<id>/balance, for other systems inside the cluster."""
        return self.praxis.balance(self.verify(token), str(client_id))
