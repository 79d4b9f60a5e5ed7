"""HTTP entrypoint for every Praxis API: JSON in and out, one error mapping.

`@http(method, url)` authenticates the bearer token before any worker runs
(`public=True` for /metrics, /healthz), counts requests by route template and
status, and turns every PraxisError into its status with a JSON body naming
the fields. Handlers return a dict/list (200), (status, dict), or a Response.
"""
import json
import logging
import time
import uuid

from marshmallow import ValidationError
from nameko.extensions import SharedExtension
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Response

from . import metrics
from .auth import principal_from_header, verifier_from_config
from .errors import InvalidInput, MalformedRequest, PraxisError
from .logs import log_context

log = logging.getLogger(__name__)

PRINCIPAL = "praxis.principal"
CORRELATION = "praxis.correlation_id"


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

    def handle_request(self, request):
        started = time.perf_counter()
        correlation_id = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        request.environ[CORRELATION] = correlation_id
        with log_context(correlation_id=correlation_id):
            try:
                if not self.public:
                    request.environ[PRINCIPAL] = principal_from_header(
                        self.verifier, request.headers.get("Authorization"))
                response = super().handle_request(request)
            except Exception as exc:
                response = self.response_from_exception(exc)
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


http = JsonHttp.decorator


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
