"""HTTP entrypoint for every Praxis API: JSON in and out, one error mapping.

`@http(method, url)` authenticates the bearer token before any worker runs
(`public=True` for /metrics, /healthz), counts requests by route template and
status, and turns every PraxisError into its status with a JSON body naming
the fields. Handlers return a dict/list (200), (status, dict), or a Response.

Every other route names its `resource` (and `action`: read for GET, change
otherwise, unless given) in the access policy (shared/access.py): the role is
checked right after the token, before the body is read, and the handler's
result is shaped by the policy (fields the role may not see are absent).
"""
import json
import logging
import sys
import time
import uuid

from marshmallow import ValidationError
from nameko.extensions import SharedExtension
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Response

from . import access as policy
from . import audit, metrics
from .auth import principal_from_header, verifier_from_config
from .errors import Forbidden, InvalidInput, MalformedRequest, PraxisError
from .logs import log_context

log = logging.getLogger(__name__)


class _NoAccessLines(logging.Filter):
    """The WSGI server's own access line logs the raw request line: paths carry
    client ids and a calendar feed's query its secret. The request line below
    (route template, status, time) replaces it."""

    def filter(self, record):
        return record.levelno > logging.INFO


logging.getLogger("nameko.web.server").addFilter(_NoAccessLines())

PRINCIPAL = "praxis.principal"
CORRELATION = "praxis.correlation_id"
AUDIT = "praxis.audit_access"


def json_response(payload, status=200, headers=None):
    return Response(json.dumps(payload, default=str), status=status, headers=headers,
                    mimetype="application/json")


def error_response(exc):
    if isinstance(exc, PraxisError):
        return json_response(exc.to_dict(), exc.status)
    if isinstance(exc, ValidationError):
        return error_response(InvalidInput("invalid input", exc.normalized_messages()))
    log.error("unhandled error in request", exc_info=exc)
    return json_response({"error": "internal_error", "message": "internal error"}, 500)


class Verifier(SharedExtension):
    """One token verifier per container, so the provider's keys are fetched once
    for every entrypoint (HTTP and RPC) rather than once each."""

    def setup(self):
        self.verifier = verifier_from_config(self.container.config)

    def verify(self, token):
        return self.verifier.verify(token)


class JsonHttp(HttpRequestHandler):
    verifier = Verifier()

    def __init__(self, method, url, public=False, resource=None, action=None, **kwargs):
        self.public = public
        # What the route touches, in the access policy's terms (shared/access.py):
        # the resource name and "read" or "change" (by default from the method).
        self.resource = resource
        self.action = action or ("read" if method in ("GET", "HEAD") else "change")
        # nameko logs these as warnings, not tracebacks: they are the client's error.
        kwargs.setdefault("expected_exceptions", (PraxisError, ValidationError))
        super().__init__(method, url, **kwargs)

    def setup(self):
        check_route(self)  # a route the policy does not know stops the service here
        super().setup()

    def handle_request(self, request):
        started = time.perf_counter()
        correlation_id = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        request.environ[CORRELATION] = correlation_id
        with log_context(correlation_id=correlation_id):
            try:
                if not self.public:
                    principal = principal_from_header(
                        self.verifier, request.headers.get("Authorization"))
                    request.environ[PRINCIPAL] = principal
                    request.environ[AUDIT] = self.access_of(request, principal)
                    # A path variable addresses one record: a concealed one reads 404.
                    policy.require(principal.role, self.resource, self.action,
                                   one_record="<" in self.url)
                response = super().handle_request(request)
            except Exception as exc:
                response = self.response_from_exception(exc)
                refused(request.environ.get(AUDIT), response.status_code)
        response.headers["X-Correlation-Id"] = correlation_id
        elapsed = time.perf_counter() - started
        with log_context(correlation_id=correlation_id):
            # The route template, never the path: paths carry client ids.
            log.info("%s %s %s %.1fms", request.method, self.url, response.status_code,
                     elapsed * 1000)
        service = self.container.service_name
        metrics.HTTP_REQUESTS.labels(service, request.method, self.url,
                                     str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(service, request.method, self.url).observe(elapsed)
        return response

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            status, payload = result
            return json_response(payload, status)
        return json_response(result)

    def response_from_exception(self, exc):
        return error_response(exc)

    def access_of(self, request, principal):
        """The access this request is (shared/audit.py): one audit row, written with
        the change's events, after the handler, or here when refused before it."""
        # The trail says read or change; the policy's finer action (e.g.
        # "discharge") is a change, and the route names it.
        access = audit.Access(f"{self.method} {self.url}",
                              "read" if self.action == "read" else "change",
                              request.environ[CORRELATION], self.resource,
                              store=audit.store_of(self.container))
        access.identify(principal)
        access.touching((request.path_values or {}).get("client_id"))
        return access

    def audit_access(self, worker_ctx):
        """For the runtime, which binds it to the worker (None on public routes)."""
        return worker_ctx.args[0].environ.get(AUDIT)

    def handle_result(self, event, worker_ctx, result, exc_info):
        if exc_info is None and not self.public:
            try:
                result = self.shaped(principal_of(worker_ctx.args[0]).role, result)
            except Exception:
                result, exc_info = None, sys.exc_info()
        # In the worker, before the response leaves: a read that cannot be
        # recorded is not answered.
        access = audit.current()
        if access is not None:
            try:
                access.learn(result[1] if isinstance(result, tuple) else result)
                status = status_of(result, exc_info)
                audit.record_request(access, audit.outcome_of(status), status)
            except Exception:
                log.exception("audit row not written")
                result, exc_info = None, sys.exc_info()
        return super().handle_result(event, worker_ctx, result, exc_info)

    def shaped(self, role, result):
        """The handler's result as the policy lets this role see it."""
        if not policy.hidden_fields(role, self.resource):
            return result
        if isinstance(result, Response):
            # A PDF or an image cannot be shaped: refused rather than sent whole.
            raise Forbidden(f"role {role!r} may not read all of this {self.resource}; "
                            "its JSON form shows what the role may see")
        if isinstance(result, tuple):
            status, payload = result
            return status, policy.shape(role, self.resource, payload)
        return policy.shape(role, self.resource, result)


http = JsonHttp.decorator


def check_route(entrypoint):
    """A non-public route names a resource of the policy and an action some role
    may take on it."""
    if entrypoint.public:
        return
    where = f"{entrypoint.method} {entrypoint.url}"
    if entrypoint.resource is None:
        raise policy.UnknownResource(f"route {where} names no resource= of the access "
                                     "policy (shared/access.py)")
    if not policy.roles_for(entrypoint.resource, entrypoint.action):
        raise policy.UnknownResource(f"route {where}: no role may {entrypoint.action} "
                                     f"{entrypoint.resource} in the access policy")


def routes(service_cls):
    """[(method name, JsonHttp entrypoint)] of a service class, mixins included."""
    found = []
    for name in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, name, None), "nameko_entrypoints", ()):
            if isinstance(entrypoint, JsonHttp):
                found.append((name, entrypoint))
    return sorted(found, key=lambda pair: (pair[1].url, pair[1].method))


def refused(access, status):
    """A request refused before its handler ran (the policy's role check) still
    leaves its row; failing to write it does not change the refusal."""
    try:
        audit.record_request(access, audit.outcome_of(status), status)
    except Exception:
        log.exception("audit row not written")


def status_of(result, exc_info):
    """The HTTP status a handler's result or exception becomes (see error_response)."""
    if exc_info is not None:
        exc = exc_info[1]
        if isinstance(exc, PraxisError):
            return exc.status
        return 422 if isinstance(exc, ValidationError) else 500
    if isinstance(result, Response):
        return result.status_code
    return result[0] if isinstance(result, tuple) else 200


def principal_of(request):
    return request.environ[PRINCIPAL]


def correlation_of(request):
    return request.environ[CORRELATION]


def load_body(request, schema):
    """Parse and validate a JSON body; 400 if not JSON, 422 naming each bad field."""
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise MalformedRequest(f"body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        raise MalformedRequest("body must be a JSON object")
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise InvalidInput("invalid input", exc.normalized_messages())


def load_query(request, schema):
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise InvalidInput("invalid query parameters", exc.normalized_messages())
