"""nameko glue: the dependency that gives workers the application and runs the
outbox relay, the audited RPC entrypoint, and the endpoints every service has
(/metrics, /healthz, /events, /audit/accesses, /asyncapi.json)."""
import inspect
import logging
import sys
from datetime import timezone

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc, RpcConsumer
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from werkzeug.wrappers import Response

from . import access as policy
from . import asyncapi, audit, idempotency, metrics, paging, tracing
from .config import amqp_connection as Connection
from .limits import ID_ALPHABET, MAX_POSITION, MAX_USER_ID
from .consumer import SettlingQueueConsumer, handler_queues
from .faults import BROKER_ERRORS
from .outbox import OutboxRelay
from .web import Verifier, http, json_response, load_query, principal_of, status_of

log = logging.getLogger(__name__)


class Praxis(DependencyProvider):
    """Builds the service's Application once per container; runs its relay."""

    def __init__(self, application_class):
        self.application_class = application_class

    def setup(self):
        config = self.container.config
        # Not here: nameko answers no request (not even /livez) until setup returns.
        self.application = self.application_class(config["PRAXIS_DATABASE_URL"],
                                                  config["AMQP_URI"], rebuild_later=True)
        self.relay = OutboxRelay(self.application.store, config["AMQP_URI"])
        self.relay.declare_exchange()
        self.application.handler_queues = handler_queues(self.container.service_cls)

    def start(self):
        self._relay_thread = self.container.spawn_managed_thread(self.relay.run)
        read_models = self.application.read_models
        self._rebuild_thread = None if read_models is None or read_models.current \
            else self.container.spawn_managed_thread(read_models.ensure_current)

    def stop(self):
        if self._rebuild_thread is not None:
            self.application.read_models.stop()
            self._rebuild_thread.wait()
        self.relay.stop()
        self._relay_thread.wait()
        self.relay.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.application

    @property
    def audit_store(self):
        """Where this service's audit rows go (shared/audit.py)."""
        application = getattr(self, "application", None)
        return application.store if application is not None else None

    def worker_setup(self, worker_ctx):
        # The entrypoint says what access this worker is; the unit of work and
        # the entrypoint's result write its audit row (shared/audit.py).
        begin = getattr(worker_ctx.entrypoint, "audit_access", None)
        audit.bind(begin(worker_ctx) if begin is not None else None)
        # Likewise its Idempotency-Key, which the unit of work claims (shared/idempotency.py).
        keyed = getattr(worker_ctx.entrypoint, "idempotency_key", None)
        idempotency.bind(keyed(worker_ctx) if keyed is not None else None)
        # And the request's W3C traceparent, which the events it appends carry.
        traceparent = getattr(worker_ctx.entrypoint, "traceparent", None)
        tracing.bind(traceparent(worker_ctx) if traceparent is not None else None)

    def worker_teardown(self, worker_ctx):
        audit.bind(None)
        idempotency.bind(None)
        tracing.bind(None)


class _RpcConsumer(RpcConsumer):
    """nameko's RPC consumer, for a broker that drops the connection: an ack or a
    reply that cannot go is logged, never raised (raised, it killed the service).
    The unacked call is redelivered; the caller may time out and retry."""

    queue_consumer = SettlingQueueConsumer()

    def handle_result(self, message, result, exc_info):
        try:
            return super().handle_result(message, result, exc_info)
        except (OSError, *BROKER_ERRORS) as exc:
            log.warning("rpc reply not sent, the broker is away: %s", exc)
            return result, exc_info


class AuditedRpc(Rpc):
    """nameko's @rpc, with one audit row per call written before the reply."""

    rpc_consumer = _RpcConsumer()

    def __init__(self, resource=None, action="read", **kwargs):
        self.resource, self.action = resource, action
        super().__init__(**kwargs)

    def setup(self):
        # As for routes: the access policy must know what this call touches.
        if self.resource is None or not policy.roles_for(self.resource, self.action):
            raise policy.UnknownResource(
                f"rpc {self.method_name} names no resource= some role may {self.action} "
                "in the access policy (shared/access.py)")
        super().setup()

    def audit_access(self, worker_ctx):
        method = getattr(self.container.service_cls, self.method_name)
        arguments = inspect.signature(method).bind(
            None, *worker_ctx.args, **worker_ctx.kwargs).arguments
        access = audit.Access(f"rpc {self.container.service_name}.{self.method_name}",
                              "read" if self.action == "read" else "change",
                              worker_ctx.call_id, self.resource,
                              store=audit.store_of(self.container))
        access.touching(arguments.get("client_id"))
        return access  # the caller is named when TokenVerifier checks the token

    def handle_result(self, message, worker_ctx, result, exc_info):
        role = getattr(worker_ctx, ROLE, None)  # set when TokenVerifier checked the caller
        if exc_info is None and role is not None:
            result = policy.shape(role, self.resource, result)
        access = audit.current()
        if access is not None:
            try:
                access.learn(result)
                status = status_of(result, exc_info)
                audit.record_request(access, audit.outcome_of(status))
            except Exception:
                log.exception("audit row not written")
                result, exc_info = None, sys.exc_info()
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = AuditedRpc.decorator
ROLE = "praxis_role"


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
        def verify(token):
            principal = self.verifier.verify(token)
            audit.identify(principal)  # the call's audit row names its caller
            entrypoint = worker_ctx.entrypoint
            if isinstance(entrypoint, AuditedRpc):  # the policy, as the web layer applies it
                policy.require(principal.role, entrypoint.resource, entrypoint.action)
                setattr(worker_ctx, ROLE, principal.role)
            return principal
        return verify


class FeedQuery(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AccessQuery(Schema):
    client_id = fields.String(load_default=None, validate=validate.Length(max=64))
    user_id = fields.String(load_default=None, validate=[validate.Length(max=MAX_USER_ID),
                                                         ID_ALPHABET])
    from_ = fields.AwareDateTime(data_key="from", load_default=None, default_timezone=timezone.utc)
    to = fields.AwareDateTime(load_default=None, default_timezone=timezone.utc)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))
    format = fields.String(load_default=None, validate=validate.OneOf(["json", "csv"]))

    @validates_schema
    def _one_subject(self, data, **_kwargs):
        if data["client_id"] is None and data["user_id"] is None:
            raise ValidationError("name a client_id or a user_id", "client_id")


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
        if application.read_models is None or application.read_models.current:
            application.refresh_gauges()  # they read the read models
        application.refresh_deferred_gauge()
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)

    @http("GET", "/livez", public=True)
    def livez(self, request):
        """The process answers (Kubernetes liveness: restart only when this fails)."""
        return {"status": "ok"}

    @http("GET", "/readyz", public=True)
    def readyz(self, request):
        """Database and broker reachable, read models current (readiness: 503 takes
        the pod out of service; a rebuild says how far it got)."""
        checks = {}
        read_models = self.praxis.read_models
        if read_models is not None:
            try:
                read_models.check()
            except Exception:  # the database check below names it
                pass
            checks["read_models"] = read_models.describe()
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

    @http("GET", "/asyncapi.json", public=True)
    def asyncapi_document(self, request):
        """The event contract (AsyncAPI 3.0, every service's events; shared/asyncapi.py)."""
        return Response(asyncapi.dumps(asyncapi.served()), mimetype="application/json")

    @http("GET", "/openapi.json", public=True)
    def openapi(self, request):
        """This service's OpenAPI 3.1 document (shared/openapi.py), public like /livez."""
        from . import openapi  # it walks the service class, which imports this module
        return openapi.cached(type(self))

    @http("GET", "/events", resource="events_feed")
    def events(self, request):
        """Replay: this service's events in store order, for the caller's organisation."""
        principal = principal_of(request)  # roles: the policy's events_feed
        query = load_query(request, FeedQuery())
        rows = self.praxis.event_feed(principal, query["after"], query["limit"] + 1)
        return paging.position_page("events", rows, query["limit"],
                                    lambda row: row["position"])

    @http("GET", "/audit/accesses", resource="audit", action="read")
    def audit_accesses(self, request):
        """The privacy officer's questions: who looked at this client, what did this
        user look at, over a period (JSON pages; CSV by Accept or format=csv)."""
        principal = principal_of(request)  # roles: the policy's audit
        query = load_query(request, AccessQuery())
        page = audit.accesses(self.praxis.store, principal, query["client_id"],
                              query["user_id"], query["from_"], query["to"], query["limit"],
                              query["cursor"])
        wants_csv = query["format"] == "csv" or (
            query["format"] is None
            and request.accept_mimetypes.best_match(["application/json", "text/csv"])
            == "text/csv")
        if wants_csv:
            headers = {} if page["next_cursor"] is None else {
                "X-Next-Cursor": str(page["next_cursor"])}
            return Response(audit.to_csv(page["accesses"]), headers=headers,
                            mimetype="text/csv")
        return paging.page("accesses", page["accesses"], query["limit"],
                           page["next_cursor"], next_cursor=page["next_cursor"])
