"""The OpenAPI 3.1 documents (shared/openapi.py): valid, and covering every route."""
import importlib

import pytest
from openapi_spec_validator import validate

from shared.config import SERVICES
from shared.openapi import PROBLEMS, document
from shared.web import routes
from services.intake.schemas import RegisterClientSchema

METHODS = ("get", "put", "post", "patch", "delete")


def service_class(name):
    return importlib.import_module(f"services.{name}.service").Service


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_document_is_valid_openapi_3_1_with_every_route(name):
    doc = document(service_class(name))
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    operations = {(method.upper(), path) for path, item in doc["paths"].items()
                  for method in item if method in METHODS}
    expected = set()
    for _, entrypoint in routes(service_class(name)):
        path = entrypoint.url.replace("<uuid:", "{").replace("<", "{").replace(">", "}")
        expected.add((entrypoint.method, path))
    assert operations == expected
    assert ("GET", "/openapi.json") in operations


@pytest.mark.parametrize("name", SERVICES)
def test_every_operation_documents_its_success_and_every_problem(name):
    doc = document(service_class(name))
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"200", "201"} & set(responses), (method, path)
            for status in PROBLEMS:
                assert str(status) in responses, (method, path, status)
            public = path in ("/metrics", "/livez", "/readyz", "/healthz", "/openapi.json",
                              "/asyncapi.json", "/clinicians/{clinician_id}/calendar.ics")
            assert ("security" not in operation) == public, (method, path)
    problem = doc["components"]["responses"]["Problem422"]["content"]
    assert list(problem) == ["application/problem+json"]


def test_path_ids_bodies_and_queries_come_from_the_routes_and_schemas():
    doc = document(service_class("intake"))
    register = doc["paths"]["/clients"]["post"]
    assert register["responses"]["201"]["content"]["application/json"]
    body = register["requestBody"]["content"]["application/json"]["schema"]
    schema = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(schema["required"]) >= {
        name for name, field in RegisterClientSchema().fields.items() if field.required}
    directory = doc["paths"]["/clients"]["get"]
    query = {p["name"] for p in directory["parameters"] if p["in"] == "query"}
    assert {"clinic_id", "limit", "offset"} <= query
    client = doc["paths"]["/clients/{client_id}"]["get"]["parameters"]
    assert client == [{"in": "path", "name": "client_id", "required": True,
                       "schema": {"type": "string", "format": "uuid"}}]
    chart = doc["paths"]["/clients/{client_id}/outcomes/{instrument}/chart"]["get"]
    assert set(chart["responses"]["200"]["content"]) == {"image/svg+xml", "image/png"}
    feed = document(service_class("scheduling"))
    audit = feed["paths"]["/audit/accesses"]["get"]
    assert {p["name"] for p in audit["parameters"]} >= {"from", "to", "cursor", "limit"}


def test_make_openapi_writes_each_service_document(tmp_path):
    import json

    from shared.openapi import main

    main(["--write", str(tmp_path)])
    for name in SERVICES:
        written = json.loads((tmp_path / f"{name}.json").read_text())
        assert written == json.loads(json.dumps(document(service_class(name))))


def test_a_body_the_route_may_go_without_is_not_required():
    doc = document(service_class("notes"))
    assert doc["paths"]["/notes/{note_id}/sign"]["post"]["requestBody"]["required"] is False
    assert doc["paths"]["/clients/{client_id}/goals"]["post"]["requestBody"]["required"] is True


def test_paged_lists_document_the_page_shape():
    doc = document(service_class("billing"))
    for path, items in (("/charges", "charges"), ("/invoices", "invoices"),
                        ("/events", "events"), ("/audit/accesses", "accesses")):
        page = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert page["schema"]["required"] == [items, "limit", "next"], path


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_that_takes_a_limit_is_a_documented_page_and_the_reverse(name):
    """A list pages the one way (shared/paging.py); its document says so."""
    from shared.openapi import PAGES, QUERIES, read_by
    cls = service_class(name)
    for method_name, entrypoint in routes(cls):
        key = (entrypoint.method, entrypoint.url)
        query = QUERIES.get(key, read_by(getattr(cls, method_name))[1])
        takes_limit = query is not None and "limit" in query().fields
        assert takes_limit == (key in PAGES), key
