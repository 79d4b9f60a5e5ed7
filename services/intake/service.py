"""Intake's nameko service: maps HTTP, RPC and events onto IntakeApplication."""
from nameko.rpc import rpc

from shared.consumer import event_handler
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier
from shared.web import correlation_of, http, load_body, load_query, principal_of

from .application import IntakeApplication
from .schemas import AssessClientSchema, ClinicQuery, RegisterClientSchema


class Service(CommonEndpoints):
    name = "intake"
    praxis = Praxis(IntakeApplication)
    verify = TokenVerifier()

    @http("POST", "/clients")
    def register_client(self, request):
        command = load_body(request, RegisterClientSchema())
        return 201, self.praxis.register_client(
            principal_of(request), correlation_of(request), command)

    @http("GET", "/clients")
    def client_directory(self, request):
        return self.praxis.directory(principal_of(request), load_query(request, ClinicQuery()))

    @http("GET", "/clients/<uuid:client_id>")
    def get_client(self, request, client_id):
        return self.praxis.client(principal_of(request), client_id)

    @http("POST", "/clients/<uuid:client_id>/assessments")
    def assess_client(self, request, client_id):
        command = load_body(request, AssessClientSchema())
        return 201, self.praxis.assess_client(
            principal_of(request), correlation_of(request), client_id, command)

    @http("GET", "/clinics/<clinic_id>/reassessments/pending")
    def pending_reassessments(self, request, clinic_id):
        return self.praxis.pending_reassessments(principal_of(request), clinic_id)

    @rpc
    def client(self, token, client_id):
        """RPC twin of GET /clients/<id>, for other systems inside the cluster."""
        return self.praxis.client(self.verify(token), client_id)

    @event_handler("scheduling", "ReassessmentDue")
    def on_reassessment_due(self, event):
        self.praxis.consume(event)
