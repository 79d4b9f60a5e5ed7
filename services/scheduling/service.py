"""Scheduling's nameko service: maps HTTP, RPC and events onto SchedulingApplication."""
from nameko.rpc import rpc

from shared.consumer import event_handler
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier
from shared.web import correlation_of, http, load_body, principal_of

from .application import SchedulingApplication
from .schemas import BookAppointmentSchema, HoldSessionSchema, ReassessmentPolicySchema


class Service(CommonEndpoints):
    name = "scheduling"
    praxis = Praxis(SchedulingApplication)
    verify = TokenVerifier()

    @http("POST", "/appointments")
    def book_appointment(self, request):
        command = load_body(request, BookAppointmentSchema())
        return 201, self.praxis.book_appointment(
            principal_of(request), correlation_of(request), command)

    @http("GET", "/appointments/<uuid:appointment_id>")
    def get_appointment(self, request, appointment_id):
        return self.praxis.appointment(principal_of(request), str(appointment_id))

    @http("POST", "/appointments/<uuid:appointment_id>/held")
    def hold_session(self, request, appointment_id):
        command = load_body(request, HoldSessionSchema())
        return 201, self.praxis.hold_session(
            principal_of(request), correlation_of(request), str(appointment_id), command)

    @http("GET", "/clients/<uuid:client_id>/appointments")
    def client_appointments(self, request, client_id):
        return self.praxis.client_appointments(principal_of(request), str(client_id))

    @http("GET", "/clinics/<clinic_id>/reassessment-policy")
    def get_reassessment_policy(self, request, clinic_id):
        return self.praxis.reassessment_policy(principal_of(request), clinic_id)

    @http("PUT", "/clinics/<clinic_id>/reassessment-policy")
    def set_reassessment_policy(self, request, clinic_id):
        command = load_body(request, ReassessmentPolicySchema())
        return self.praxis.set_reassessment_policy(
            principal_of(request), correlation_of(request), clinic_id, command)

    @rpc
    def appointment(self, token, appointment_id):
        """RPC twin of GET /appointments/<id>, for other systems inside the cluster."""
        return self.praxis.appointment(self.verify(token), str(appointment_id))

    @event_handler("intake", "ClientRegistered")
    def on_client_registered(self, event):
        self.praxis.consume(event)

    @event_handler("intake", "ClientAssessed")
    def on_client_assessed(self, event):
        self.praxis.consume(event)
