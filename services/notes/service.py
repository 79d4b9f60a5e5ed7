"""Notes' nameko service: maps HTTP, RPC and events onto NotesApplication."""
from nameko.rpc import rpc

from shared.consumer import event_handler
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier
from shared.web import correlation_of, http, load_body, principal_of

from .application import NotesApplication
from .schemas import SetGoalSchema


class Service(CommonEndpoints):
    name = "notes"
    praxis = Praxis(NotesApplication)
    verify = TokenVerifier()

    @http("POST", "/clients/<uuid:client_id>/goals")
    def set_goal(self, request, client_id):
        command = load_body(request, SetGoalSchema())
        return 201, self.praxis.set_goal(
            principal_of(request), correlation_of(request), str(client_id), command)

    @http("GET", "/clients/<uuid:client_id>/chart")
    def get_chart(self, request, client_id):
        return self.praxis.chart(principal_of(request), str(client_id))

    @rpc
    def chart(self, token, client_id):
        """RPC twin of GET /clients/<id>/chart, for other systems inside the cluster."""
        return self.praxis.chart(self.verify(token), str(client_id))

    @event_handler("intake", "ClientRegistered")
    def on_client_registered(self, event):
        self.praxis.consume(event)

    @event_handler("intake", "ClientAssessed")
    def on_client_assessed(self, event):
        self.praxis.consume(event)

    @event_handler("scheduling", "SessionHeld")
    def on_session_held(self, event):
        self.praxis.consume(event)
