"""Idempotency-Key without a database: the key's bounds, the request hash, the routes."""
import importlib

import pytest

from shared import idempotency
from shared.errors import InvalidInput
from shared.web import routes


@pytest.mark.parametrize("key", ["a", "k" * 255, "550e8400-e29b-41d4-a716-446655440000",
                                 "with space ~!@#$%^&*()"])
def test_a_key_is_1_to_255_printable_ascii(key):
    assert idempotency.key_of({"Idempotency-Key": key}) == key


@pytest.mark.parametrize("key", ["", "k" * 256, "caf\u00e9", "tab\t", "del\x7f", "nl\n"])
def test_other_keys_are_422_naming_the_header(key):
    with pytest.raises(InvalidInput) as refused:
        idempotency.key_of({"Idempotency-Key": key})
    assert list(refused.value.fields) == ["Idempotency-Key"]


def test_no_header_no_key():
    assert idempotency.key_of({}) is None


def test_the_hash_reads_the_body_as_json():
    one = idempotency.request_hash("POST", "/clients", b"", b'{"a": 1, "b": [1, 2]}')
    assert one == idempotency.request_hash("POST", "/clients", b"", b'{"b":[1,2],"a":1}')
    assert one != idempotency.request_hash("POST", "/clients", b"", b'{"a": 2, "b": [1, 2]}')
    assert one != idempotency.request_hash("POST", "/clients/x", b"", b'{"a": 1, "b": [1, 2]}')
    assert one != idempotency.request_hash("POST", "/clients", b"x=1", b'{"a": 1, "b": [1, 2]}')
    # Not JSON: the bytes as sent.
    assert idempotency.request_hash("POST", "/x", b"", b"{nope") != \
        idempotency.request_hash("POST", "/x", b"", b"{nope ")


def test_every_post_honours_a_key_but_the_one_that_shows_a_secret():
    refusing, honouring = [], []
    for service in ("intake", "scheduling", "notes", "billing"):
        cls = importlib.import_module(f"services.{service}.service").Service
        for _, entrypoint in routes(cls):
            if entrypoint.method != "POST" or entrypoint.public:
                assert entrypoint.idempotent is None, entrypoint.url
            elif entrypoint.idempotent:
                honouring.append(entrypoint.url)
            else:
                refusing.append(entrypoint.url)
    assert refusing == ["/clinicians/<clinician_id>/calendar-feeds"]
    for url in ("/clients", "/clients/<uuid:client_id>/payments",
                "/clients/<uuid:client_id>/refunds", "/invoices/<uuid:invoice_id>/write-offs",
                "/clients/<uuid:client_id>/invoices", "/appointments",
                "/clients/<uuid:client_id>/assessments", "/series", "/psychotherapy-notes"):
        assert url in honouring
