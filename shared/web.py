"""HTTP entrypoint for every Praxis API: JSON in and out, one error mapping.

`@http(method, url)` authenticates the bearer token before any worker runs
(`public=True` for /metrics, /healthz), counts requests by route template and
status, and turns every PraxisError into its status with a JSON body naming
the fields. Handlers return a dict/list (200), (status, dict), or a Response.

Every other route names its `resource` (and `action`: read for GET, change
otherwise, unless given) in the access policy (shared/access.py): the role is
checked right after the token, before the body is read, and the handler's
result is shaped by the policy (fields the role may not see are absent).

A POST with an `Idempotency-Key` answers a retry with its first result
(shared/idempotency.py: checked here before the handler, claimed by the unit of
work, its response kept here after).
"""
import json
import logging
import re
import sys
import time
import uuid
from datetime import date, datetime
from datetime import timedelta

from marshmallow import ValidationError
from nameko.extensions import SharedExtension
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from . import access as policy
from . import audit, idempotency, metrics, ratelimit, tracing
from .auth import principal_from_header, verifier_from_config
from .caller import Caller
from .errors import (ContentTooLarge, Forbidden, InvalidInput, MalformedRequest,
                     PraxisError, UnsupportedMediaType)
from .limits import ID_ALPHABET, ID_PATTERN
from .faults import RETRY_AFTER_SECONDS, is_transient, what_is_away
from .logs import log_context

log = logging.getLogger(__name__)


class _NoAccessLines(logging.Filter):
    """The WSGI server's own access line logs the raw request line: paths carry
    client ids and a calendar feed's query its secret. The request line below
    (route template, status, time) replaces it."""

    def filter(self, record):
        if record.levelno <= logging.INFO:
            return False
        # eventlet's errors about a body name the request line: not that part.
        record.msg = re.sub(r'request=".*" error=', 'request="-" error=', record.getMessage(),
                            flags=re.S)
        record.args = ()
        return True


logging.getLogger("nameko.web.server").addFilter(_NoAccessLines())

PRINCIPAL = "praxis.principal"
CORRELATION = "praxis.correlation_id"
TRACE = "praxis.traceparent"
AUDIT = "praxis.audit_access"
IDEMPOTENCY = "praxis.idempotency"


def json_response(payload, status=200, headers=None):
    return Response(json.dumps(payload, default=str), status=status, headers=headers,
                    mimetype="application/json")


PROBLEM_TYPES = "/problems/"  # + the error code with dashes: /problems/invalid-input
PROBLEM_JSON = "application/problem+json"


def problem_response(status, code, message, fields=None, headers=None, extra=None):
    """An RFC 9457 problem: type, title, status, detail, plus Praxis's own error,
    message and fields members (clients and tests read those) and an error's own
    extension members (a double booking's conflicting_appointment_id)."""
    body = {**(extra or {}), "type": PROBLEM_TYPES + code.replace("_", "-"),
            "title": code.replace("_", " ").capitalize(), "status": status,
            "detail": message, "error": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response(json.dumps(body, default=str), status=status, headers=headers,
                    mimetype=PROBLEM_JSON)


# werkzeug's own refusals (no route, wrong method, a <uuid:> that is not one).
HTTP_CODES = {400: "malformed_request", 404: "not_found", 405: "method_not_allowed",
              413: "content_too_large", 415: "unsupported_media_type"}


def error_response(exc):
    if isinstance(exc, PraxisError):
        extra = {k: v for k, v in exc.to_dict().items()
                 if k not in ("error", "message", "fields")}
        return problem_response(exc.status, exc.code, exc.message, exc.fields,
                                headers=getattr(exc, "headers", None), extra=extra)
    if isinstance(exc, ValidationError):
        return error_response(InvalidInput("invalid input", exc.normalized_messages()))
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() == "allow"]
        code = HTTP_CODES.get(exc.code, exc.name.lower().replace(" ", "_"))
        return problem_response(exc.code, code, exc.description or exc.name, headers=headers)
    if is_transient(exc):  # database or broker away (shared/faults.py): nothing stored
        away = what_is_away(exc)
        log.warning("%s unavailable: %s", away, type(exc).__name__)
        return problem_response(503, "unavailable", f"the {away} "
                                f"{'are' if away == 'read models' else 'is'} unavailable; "
                                "nothing was stored, retry later",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.error("unhandled error in request", exc_info=exc)
    return problem_response(500, "internal_error", "internal error")


class Verifier(SharedExtension):
    """One token verifier per container, so the provider's keys are fetched once
    for every entrypoint (HTTP and RPC) rather than once each."""

    def setup(self):
        self.verifier = verifier_from_config(self.container.config)

    def verify(self, token):
        return self.verifier.verify(token)


MAX_BODY_BYTES = 1024 * 1024  # PRAXIS_MAX_BODY_BYTES (shared/config.py)


class _Request(Request):
    def __init__(self, environ, max_body):
        super().__init__(environ, shallow=True)
        # Caps the read of a chunked body too: a byte over the limit is read, so
        # load_body can tell a body at the limit from one cut off there.
        self.max_body = max_body
        self.max_content_length = max_body + 1


class _ProblemApp(WsgiApp):
    """nameko's WSGI app, answering what it would answer in HTML (no route, a
    wrong method, a body over the limit) as a JSON problem."""

    def __call__(self, environ, start_response):
        max_body = self.server.max_body_bytes
        started = time.perf_counter()
        try:
            length = environ.get("CONTENT_LENGTH") or "0"
            if not length.isdigit():
                raise MalformedRequest("Content-Length is not a number")
            if int(length) > max_body:
                # Refused before a byte of the body is read; the connection is closed
                # rather than drained.
                response = error_response(ContentTooLarge(
                    f"the body is larger than {max_body} bytes"))
                response.headers["Connection"] = "close"
                _close_undrained(environ)
                return response(environ, start_response)
            sent = environ.get("headers_raw")
            if sent is not None and not any(k.lower() == "content-type" for k, _ in sent):
                environ["CONTENT_TYPE"] = ""  # eventlet's text/plain is not the client's
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                # eventlet ends a chunked body itself: werkzeug may read it, capped.
                environ["wsgi.input_terminated"] = True
            request = _Request(environ, max_body)
            provider, values = self.url_map.bind_to_environ(environ).match()
            # A path id reaches headers (an .ics filename), file names and queries.
            odd = {name: [ID_ALPHABET.error] for name, value in values.items()
                   if isinstance(value, str) and not re.fullmatch(ID_PATTERN, value)}
            if odd:
                raise InvalidInput("invalid path", odd)
        except Exception as exc:
            response = error_response(exc)
            # No route matched: logged without the path (it may carry ids, secrets).
            log.info("%s (not routed) %s %.1fms", environ.get("REQUEST_METHOD"),
                     response.status_code, (time.perf_counter() - started) * 1000)
            return response(environ, start_response)
        request.path_values = values
        return provider.handle_request(request)(environ, start_response)


def _close_undrained(environ):
    """eventlet drains an unread body to keep the connection; one still awaiting its
    100 Continue it closes instead. A body refused for its size is not read at all."""
    stream = environ.get("eventlet.input")
    if stream is not None and getattr(stream, "wfile", None) is None:
        stream.wfile = True  # never written: the body is never read


class PraxisWebServer(WebServer):
    """nameko's web server with JSON problems for its own refusals, a body limit and
    no access log of its own: eventlet's line holds the raw path and query (client
    ids, a feed's secret, a name search); JsonHttp logs the route template instead."""

    def setup(self):
        self.max_body_bytes = int(self.container.config.get("PRAXIS_MAX_BODY_BYTES")
                                  or MAX_BODY_BYTES)
        service = self.container.service_name
        self.limiter = ratelimit.Limiter.from_config(
            self.container.config,
            lambda limit: metrics.RATE_LIMITED.labels(service, limit).inc())

    def get_wsgi_app(self):
        return _ProblemApp(self)

    def get_wsgi_server(self, sock, wsgi_app, **kwargs):
        server = super().get_wsgi_server(sock, wsgi_app, **kwargs)
        server.log_output = False  # its errors still reach nameko.web.server's log
        return server


CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
# Probes and scrapes are never rate limited.
UNLIMITED = ("/livez", "/readyz", "/healthz", "/metrics")


class JsonHttp(HttpRequestHandler):
    server = PraxisWebServer()
    verifier = Verifier()

    def __init__(self, method, url, public=False, resource=None, action=None,
                 idempotent=True, **kwargs):
        self.public = public
        # A POST honours an Idempotency-Key; idempotent=False for one whose answer
        # must not be stored (a secret shown once): a key there is 422. Other
        # methods ignore the header.
        self.idempotent = idempotent if method == "POST" and not public else None
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
        correlation_id = request.headers.get("X-Correlation-Id") or ""
        if not CORRELATION_ID.fullmatch(correlation_id):  # echoed, logged, in events
            correlation_id = str(uuid.uuid4())
        request.environ[CORRELATION] = correlation_id
        traceparent = request.environ[TRACE] = tracing.parse(
            request.headers.get(tracing.HEADER))  # a malformed one is None: ignored
        trace_id = tracing.trace_id(traceparent)
        keyed = None
        with log_context(correlation_id=correlation_id, trace_id=trace_id):
            address = request.remote_addr or "-"
            try:
                if self.url not in UNLIMITED:
                    self.server.limiter.before_authentication(address)
                if not self.public:
                    principal = principal_from_header(
                        self.verifier, request.headers.get("Authorization"))
                    self.server.limiter.after_authentication(principal)
                    request.environ[PRINCIPAL] = principal
                    request.environ[AUDIT] = self.access_of(request, principal)
                    # A path variable addresses one record: a concealed one reads 404.
                    policy.require(principal.role, self.resource, self.action,
                                   one_record="<" in self.url)
                    keyed = request.environ[IDEMPOTENCY] = self.keyed(request, principal)
                # A retry is answered from the kept row, its handler never runs.
                replayed = keyed is not None and idempotency.replay(keyed)
                if replayed:
                    response = replayed
                    answered(request.environ.get(AUDIT), response)
                else:
                    response = super().handle_request(request)
            except Exception as exc:
                response = self.response_from_exception(exc)
                refused(request.environ.get(AUDIT), response.status_code)
            idempotency.keep(keyed, response)
            if response.status_code == 401:  # a wrong token or feed secret
                self.server.limiter.failed(address)
        response.headers["X-Correlation-Id"] = correlation_id
        elapsed = time.perf_counter() - started
        with log_context(correlation_id=correlation_id, trace_id=trace_id):
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

    def keyed(self, request, principal):
        """The request's Idempotency-Key and what it asks, or None without one."""
        if self.idempotent is None:
            return None
        key = idempotency.key_of(request.headers)
        store = audit.store_of(self.container)
        if key is None or store is None:
            return None
        if not self.idempotent:
            raise InvalidInput(f"{self.method} {self.url} keeps no answer to repeat (it "
                               f"shows a secret once); send it without {idempotency.HEADER}",
                               {idempotency.HEADER: ["not accepted on this route"]})
        hours = float(self.container.config.get("PRAXIS_IDEMPOTENCY_HOURS", 24))
        request.shallow = False  # the body is read before nameko's handler would allow it
        return idempotency.Keyed(
            key, principal.organisation_id, principal.user_id, f"{self.method} {self.url}",
            idempotency.request_hash(request.method, request.path,
                                     request.query_string, request.get_data()),
            timedelta(hours=hours), store)

    def traceparent(self, worker_ctx):
        """For the runtime, which binds it to the worker: the events appended carry it."""
        return worker_ctx.args[0].environ.get(TRACE)

    def idempotency_key(self, worker_ctx):
        """For the runtime, which binds it to the worker for the unit of work."""
        return worker_ctx.args[0].environ.get(IDEMPOTENCY)

    def handle_result(self, event, worker_ctx, result, exc_info):
        if exc_info is None and not self.public:
            try:
                result = self.shaped(principal_of(worker_ctx.args[0]).role, result)
            except Exception:
                result, exc_info = None, sys.exc_info()
        if exc_info is not None and isinstance(exc_info[1], idempotency.KeyTaken):
            # A twin with this key committed first: its answer is this one's.
            try:
                result, exc_info = idempotency.replay(exc_info[1].keyed, taken=True), None
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


def answered(access, response):
    """A request answered before its handler ran (an Idempotency-Key's replay)
    leaves its row, naming the client its answer is about."""
    try:
        access.learn(json.loads(response.get_data()))
    except (AttributeError, ValueError):
        pass
    refused(access, response.status_code)


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
        if isinstance(exc, ValidationError):
            return 422
        return 503 if is_transient(exc) else 500
    if isinstance(result, Response):
        return result.status_code
    return result[0] if isinstance(result, tuple) else 200


def principal_of(request):
    return request.environ[PRINCIPAL]


def correlation_of(request):
    return request.environ[CORRELATION]


def caller_of(request):
    """The principal and correlation of this request, as commands take them."""
    return Caller(principal_of(request), correlation_of(request))


MAX_JSON_DEPTH = 32  # deeper is no Praxis body, and json.loads would recurse on it
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r"[\[\]{}]")


def load_body(request, schema):
    """Parse and validate a JSON body; 400 if not JSON (or nested too deep), 413 over
    the size limit, 415 when declared as something else, 422 naming each bad field
    (a NUL or an unpaired surrogate in any string included)."""
    mimetype = request.mimetype
    limit = getattr(request, "max_body", None)
    try:
        raw = request.get_data()
    except RequestEntityTooLarge:
        raw = None
    if raw is None or (limit is not None and len(raw) > limit):
        _close_undrained(request.environ)
        raise ContentTooLarge(f"the body is larger than {limit} bytes")
    # No content type is taken for JSON (curl -d); a declared other one is not.
    if raw and mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"the body must be application/json, not {mimetype}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("body is not UTF-8")
    depth = deepest(text)
    if depth > MAX_JSON_DEPTH:
        raise MalformedRequest(f"body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(text or "null")
    except ValueError as exc:
        raise MalformedRequest(f"body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        raise MalformedRequest("body must be a JSON object")
    refuse_bad_strings(body)
    try:
        return refuse_out_of_range(schema.load(body), schema)
    except ValidationError as exc:
        raise InvalidInput("invalid input", exc.normalized_messages())


def deepest(text):
    """How deep a JSON text's arrays and objects nest, brackets inside strings aside."""
    depth = deepest_seen = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest_seen = max(deepest_seen, depth)
    return deepest_seen


def _string_faults(value, where):
    if isinstance(value, str):
        if "\x00" in value:
            yield where, "must not contain a NUL character"
        elif any("\ud800" <= ch <= "\udfff" for ch in value):
            yield where, "must not contain an unpaired surrogate"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            yield from _string_faults(key, name)
            yield from _string_faults(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_faults(item, f"{where}.{index}")


def refuse_bad_strings(data, message="invalid input"):
    """422 naming each field whose text no column or log should hold."""
    faults = {}
    for where, why in _string_faults(data, ""):
        faults.setdefault(where or "_body", []).append(why)
    if faults:
        raise InvalidInput(message, faults)


def load_query(request, schema):
    query = request.args.to_dict()
    refuse_bad_strings(query, "invalid query parameters")
    try:
        loaded = schema.load(query)
    except ValidationError as exc:
        raise InvalidInput("invalid query parameters", exc.normalized_messages())
    return refuse_out_of_range(loaded, schema, "invalid query parameters")


EARLIEST_YEAR, LATEST_YEAR = 1900, 2200  # a date outside is a typo, and 0001 or 9999
MAX_INTEGER = 2 ** 63 - 1                 # with an offset overflow datetime; BIGINT


def _range_faults(value, where):
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_INTEGER <= value <= MAX_INTEGER:
            yield where, "is out of range"
    elif isinstance(value, (date, datetime)):
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            yield where, f"must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _range_faults(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _range_faults(item, f"{where}.{index}")


def refuse_out_of_range(loaded, schema, message="invalid input"):
    """422 naming each date outside the sane years or integer past 64 bits, in
    the request's own field names (a field's data_key)."""
    faults = {}
    for where, why in _range_faults(loaded, ""):
        head, _, rest = where.partition(".")
        field = getattr(schema, "fields", {}).get(head)
        name = (field.data_key or head) if field is not None else head
        faults.setdefault(f"{name}.{rest}" if rest else name, []).append(why)
    if faults:
        raise InvalidInput(message, faults)
    return loaded
