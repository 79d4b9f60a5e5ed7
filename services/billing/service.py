"""Billing's nameko service: maps HTTP, RPC and events onto BillingApplication."""
from nameko.rpc import rpc

from shared.consumer import event_handler
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier
from shared.web import correlation_of, http, load_body, load_query, principal_of

from .application import BillingApplication
from .schemas import ChargesQuery, FeeScheduleSchema


class Service(CommonEndpoints):
    name = "billing"
    praxis = Praxis(BillingApplication)
    verify = TokenVerifier()

    @http("PUT", "/clinics/<clinic_id>/fee-schedule")
    def set_fee_schedule(self, request, clinic_id):
        command = load_body(request, FeeScheduleSchema())
        return self.praxis.set_fee_schedule(
            principal_of(request), correlation_of(request), clinic_id, command)

    @http("GET", "/clinics/<clinic_id>/fee-schedule")
    def get_fee_schedule(self, request, clinic_id):
        return self.praxis.fee_schedule(principal_of(request), clinic_id)

    @http("GET", "/clients/<uuid:client_id>/balance")
    def get_balance(self, request, client_id):
        return self.praxis.balance(principal_of(request), str(client_id))

    @http("GET", "/charges")
    def list_charges(self, request):
        return self.praxis.list_charges(principal_of(request), load_query(request, ChargesQuery()))

    @rpc
    def balance(self, token, client_id):
        """RPC twin of GET /clients/<id>/balance, for other systems inside the cluster."""
        return self.praxis.balance(self.verify(token), str(client_id))

    @event_handler("scheduling", "SessionHeld")
    def on_session_held(self, event):
        self.praxis.consume(event)
