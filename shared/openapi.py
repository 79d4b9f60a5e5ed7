"""The OpenAPI 3.1 document of a service, built from its routes and schemas.

The paths come from the service class's JsonHttp entrypoints (shared.web.routes);
werkzeug's `<uuid:x>` becomes `{x}` with format uuid, a plain `<x>` a string of
the path ids' alphabet. What a route reads is found in its handler: the schema
it hands to `load_body(request, XSchema())` is the request body, the one it hands
to `load_query(request, XQuery())` its query parameters (apispec's marshmallow
plugin turns both into JSON Schema). A route can name them itself instead, as
`BODIES` and `QUERIES` below do for handlers that read them elsewhere.

Every route documents its success (201 when the handler answers `201, ...`, else
200; a JSON object unless `CONTENT` says otherwise), the problems of
shared/web.py error_response as application/problem+json, and, unless public,
the bearer token (shared/auth.py) as its security.

Served at GET /openapi.json (shared/runtime.py), public like /livez.
"""
import ast
import inspect
import textwrap

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .limits import ID_PATTERN
from .web import PROBLEM_JSON, routes

VERSION = "1.0.0"
# Every problem a route may answer (shared/web.py error_response and the kernel's limits).
PROBLEMS = {
    400: "the body is not JSON (or nests too deep), or the request is malformed",
    401: "no token, or an invalid one (or a wrong feed secret)",
    403: "a clinic or role the token may not act in",
    404: "not found (including another organisation's or clinic's records)",
    405: "the method is not allowed on this path",
    409: "a conflict: a concurrent change, or a rule such as holding a session twice",
    413: "the body is larger than PRAXIS_MAX_BODY_BYTES",
    415: "the body is declared as something other than JSON",
    422: "invalid input; `fields` names each bad field",
    429: "over a rate limit; Retry-After says when to try again",
    503: "the database or broker is away, or the read models are being rebuilt; nothing "
         "was stored, retry later",
}
# Answers that are not JSON: {(method, url template): {status: [media types]}}.
CONTENT = {
    ("GET", "/metrics"): {200: ["text/plain"]},
    ("GET", "/clients/<uuid:client_id>/superbill.pdf"): {200: ["application/pdf"]},
    ("GET", "/clients/<uuid:client_id>/outcomes/<instrument>/chart"):
        {200: ["image/svg+xml", "image/png"]},
    ("GET", "/clinicians/<clinician_id>/calendar.ics"): {200: ["text/calendar"]},
    ("GET", "/audit/accesses"): {200: ["application/json", "text/csv"]},
}
# Paged lists (shared/paging.py): {(method, url template): the items' key}.
# A route whose query has a `limit` is listed here (tests/unit/test_openapi.py checks).
PAGES = {("GET", "/clients"): "clients", ("GET", "/charges"): "charges",
         ("GET", "/invoices"): "invoices", ("GET", "/events"): "events",
         ("GET", "/audit/accesses"): "accesses",
         ("GET", "/clinics/<clinic_id>/break-glass"): "break_glass",
         ("GET", "/clinics/<clinic_id>/reassessments/pending"): "pending",
         ("GET", "/clinics/<clinic_id>/risk-flags"): "risk_flags",
         ("GET", "/clinics/<clinic_id>/alliance-concerns"): "alliance_concerns",
         ("GET", "/clinics/<clinic_id>/dropout-risks"): "dropout_risks",
         ("GET", "/clinics/<clinic_id>/alerts"): "alerts",
         ("GET", "/clients/<uuid:client_id>/appointments"): "appointments",
         ("GET", "/clients/<uuid:client_id>/appointments/upcoming"): "appointments",
         ("GET", "/clinics/<clinic_id>/reassessments"): "due",
         ("GET", "/clients/<uuid:client_id>/notes"): "notes",
         ("GET", "/psychotherapy-notes"): "notes",
         ("GET", "/clients/<uuid:client_id>/homework"): "homework",
         ("GET", "/clients/<uuid:client_id>/journal"): "entries",
         ("GET", "/clients/<uuid:client_id>/messages"): "messages",
         ("GET", "/clients/<uuid:client_id>/ledger"): "entries",
         ("GET", "/clinics/<clinic_id>/unbilled"): "ready",
         ("GET", "/clinics/<clinic_id>/receivables"): "clients"}
# /readyz and /healthz answer 503 with their checks, as JSON rather than a problem.
PLAIN_503 = {"/readyz", "/healthz"}
PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem, with Praxis's own error, message and fields",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "error": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object"},
    },
    "required": ["type", "title", "status", "detail", "error", "message"],
}
ANY_OBJECT = {"type": "object"}


def document(service_cls):
    """The OpenAPI 3.1 document (a dict) of a nameko service class."""
    spec = APISpec(title=f"Praxis {service_cls.name}", version=VERSION,
                   openapi_version="3.1.0", plugins=[MarshmallowPlugin()],
                   info={"description": f"The {service_cls.name} service of Praxis "
                                        "(see README.md, The APIs)."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Problem", PROBLEM)
    for status, why in PROBLEMS.items():
        spec.components.response(f"Problem{status}", {
            "description": why,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    paths = {}
    for name, entrypoint in routes(service_cls):
        path, parameters = _path(entrypoint.url)
        operation = _operation(service_cls, name, entrypoint)
        operation["parameters"] = parameters + operation.get("parameters", [])
        paths.setdefault(path, {})[entrypoint.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


_CACHE = {}


def cached(service_cls):
    """The document of a service class, built once per process."""
    if service_cls not in _CACHE:
        _CACHE[service_cls] = document(service_cls)
    return _CACHE[service_cls]


def _path(url):
    """('/clients/{client_id}', [path parameters]) of a werkzeug rule."""
    parts, parameters = [], []
    for converter, _args, variable in _parse_rule(url):
        if converter is None:
            parts.append(variable)
            continue
        parts.append("{" + variable + "}")
        schema = ({"type": "string", "format": "uuid"} if converter == "uuid"
                  else {"type": "string", "pattern": ID_PATTERN, "maxLength": 64})
        parameters.append({"in": "path", "name": variable, "required": True,
                           "schema": schema})
    return "".join(parts), parameters


def _parse_rule(url):
    """werkzeug's rule syntax, `<converter:name>` or `<name>` between static parts."""
    rest = url
    while rest:
        start = rest.find("<")
        if start < 0:
            yield None, None, rest
            return
        if start:
            yield None, None, rest[:start]
        end = rest.index(">", start)
        inner = rest[start + 1:end]
        converter, _, variable = inner.rpartition(":")
        yield converter or "default", None, variable
        rest = rest[end + 1:]


def _operation(service_cls, name, entrypoint):
    handler = getattr(service_cls, name)
    body, query, created, optional = read_by(handler)
    key = (entrypoint.method, entrypoint.url)
    body = BODIES.get(key, body)
    query = QUERIES.get(key, query)
    doc = inspect.getdoc(handler)
    operation = {"operationId": f"{name}", "summary": f"{entrypoint.method} {entrypoint.url}",
                 "responses": {}}
    if doc:
        operation["description"] = doc
    if entrypoint.resource:
        operation["tags"] = [entrypoint.resource]
    if not entrypoint.public:
        operation["security"] = [{"bearer": []}]
    if query is not None:
        operation["parameters"] = [{"in": "query", "schema": query}]
    if body is not None:
        operation["requestBody"] = {"required": not optional,
                                    "content": {"application/json": {"schema": body}}}
    success = 201 if created else 200
    media = CONTENT.get(key, {}).get(success, ["application/json"])
    operation["responses"][str(success)] = {
        "description": "created" if created else "the answer",
        "content": {m: {"schema": _page(PAGES[key]) if m == "application/json" and key in PAGES
                        else ANY_OBJECT if m == "application/json" else {"type": "string"}}
                    for m in media}}
    for status in PROBLEMS:
        if status == 503 and entrypoint.url in PLAIN_503:
            operation["responses"]["503"] = {
                "description": "the database or the broker is unreachable, or the read "
                               "models are being rebuilt",
                "content": {"application/json": {"schema": ANY_OBJECT}}}
            continue
        operation["responses"][str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    return operation


def _page(items):
    """The one page shape (shared/paging.py) of a list of `items`."""
    return {"type": "object", "required": [items, "limit", "next"], "properties": {
        items: {"type": "array", "items": {"type": "object"}},
        "limit": {"type": "integer", "minimum": 1},
        "next": {"type": ["integer", "null"], "description": "what to ask for next "
                 "(offset, after or cursor); null on the last page"},
        "total": {"type": "integer", "minimum": 0}}}


# Handlers that read their body or query through a helper, not load_body/load_query:
# {(method, url template): schema class}.
BODIES = {}
QUERIES = {}


def read_by(handler):
    """(body schema class, query schema class, answers 201, body optional) of a
    handler, from the schemas it instantiates in load_body(...) and load_query(...)."""
    function = inspect.unwrap(handler)
    source = textwrap.dedent(inspect.getsource(function))
    names = dict(function.__globals__)
    body = query = None
    created = optional = False
    tree = ast.parse(source)
    # `load_body(...) if request.get_data() else {}`: a body the route may go without.
    chosen = {id(n.body) for n in ast.walk(tree) if isinstance(n, ast.IfExp)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            first = node.value.elts[0] if node.value.elts else None
            created = created or (isinstance(first, ast.Constant) and first.value == 201)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("load_body", "load_query") and len(node.args) == 2):
            continue
        made = node.args[1]
        if not isinstance(made, ast.Call):
            continue
        schema = _resolve(made.func, names)
        if node.func.id == "load_body":
            body, optional = schema, id(node) in chosen
        else:
            query = schema
    return body, query, created, optional


def _resolve(expression, names):
    if isinstance(expression, ast.Name):
        return names[expression.id]
    if isinstance(expression, ast.Attribute):
        return getattr(_resolve(expression.value, names), expression.attr)
    raise ValueError(f"cannot tell the schema of {ast.dump(expression)}")


def main(argv=None):
    """python -m shared.openapi --write docs/openapi: one <service>.json per service."""
    import argparse
    import importlib
    import json
    from pathlib import Path

    from .config import SERVICES

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--write", metavar="DIR", required=True)
    args = parser.parse_args(argv)
    folder = Path(args.write)
    folder.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        service_cls = importlib.import_module(f"services.{service}.service").Service
        path = folder / f"{service}.json"
        path.write_text(json.dumps(document(service_cls), indent=2, sort_keys=True) + "\n")
        print(path)


if __name__ == "__main__":
    main()
