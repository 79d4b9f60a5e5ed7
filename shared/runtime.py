"""nameko glue: the dependency that gives workers the application and runs the
outbox relay, and the endpoints every service has (/metrics, /healthz, /events)."""
from kombu import Connection
from marshmallow import Schema, fields, validate
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from werkzeug.wrappers import Response

from . import metrics
from .consumer import handler_queues
from .outbox import OutboxRelay
from .web import Verifier, http, json_response, load_query, principal_of


class Praxis(DependencyProvider):
    """Builds the service's Application once per container; runs its relay."""

    def __init__(self, application_class):
        self.application_class = application_class

    def setup(self):
        config = self.container.config
        self.application = self.application_class(config["PRAXIS_DATABASE_URL"],
                                                  config["AMQP_URI"])
        self.relay = OutboxRelay(self.application.store, config["AMQP_URI"])
        self.application.handler_queues = handler_queues(self.container.service_cls)

    def start(self):
        self._relay_thread = self.container.spawn_managed_thread(self.relay.run)

    def stop(self):
        self.relay.stop()
        self._relay_thread.wait()
        self.relay.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.application


def queue_depths(amqp_uri, queues):
    """[(queue, messages ready)] by passive declare; nothing when the broker is away."""
    if not queues:
        return []
    try:
        with Connection(amqp_uri, connect_timeout=2) as connection:
            channel = connection.channel()
            return [(queue, channel.queue_declare(queue, passive=True).message_count)
                    for queue in queues]
    except Exception:  # a missing queue or an absent broker must not break /metrics
        return []


class TokenVerifier(DependencyProvider):
    """For RPC entrypoints: turns the caller's bearer token into a Principal."""

    verifier = Verifier()

    def get_dependency(self, worker_ctx):
        return self.verifier.verify


class FeedQuery(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class CommonEndpoints:
    """Mixed into every service class; expects `praxis = Praxis(...)`."""

    @http("GET", "/metrics", public=True)
    def metrics(self, request):
        application = self.praxis
        service = application.store.service
        backlog, age = application.store.outbox_status()
        metrics.OUTBOX_BACKLOG.labels(service).set(backlog)
        metrics.OUTBOX_OLDEST_AGE.labels(service).set(age)
        for queue, depth in queue_depths(application.amqp_uri, application.handler_queues):
            metrics.CONSUMER_BACKLOG.labels(service, queue).set(depth)
        application.refresh_gauges()
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)

    @http("GET", "/livez", public=True)
    def livez(self, request):
        """The process answers (Kubernetes liveness: restart only when this fails)."""
        return {"status": "ok"}

    @http("GET", "/readyz", public=True)
    def readyz(self, request):
        """Database and broker reachable (readiness: 503 takes the pod out of service)."""
        checks = {}
        try:
            self.praxis.store.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            with Connection(self.praxis.amqp_uri, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}"
        healthy = all(v == "ok" for v in checks.values())
        return json_response({"status": "ok" if healthy else "unavailable", **checks},
                             200 if healthy else 503)

    @http("GET", "/healthz", public=True)
    def healthz(self, request):
        return self.readyz(request)

    @http("GET", "/events")
    def events(self, request):
        """Replay: this service's events in store order, for the caller's organisation."""
        principal = principal_of(request)
        principal.require_role("admin", "integrator")
        query = load_query(request, FeedQuery())
        return {"events": self.praxis.event_feed(principal, query["after"], query["limit"])}
