"""Broker identities: the permission table matches the services, and
organisation ids stay safe in a routing key."""
import inspect
import re

import pytest

from shared import broker_identity, config
from shared.consumer import ReliableEventHandler, handler_queues
from shared.envelope import Context, Event, UnsafeOrganisationId, routing_key
from shared.runner import service_class
from tests.support import make_event


def sources(cls):
    return {entrypoint.source_service for _name, method in inspect.getmembers(cls)
            for entrypoint in getattr(method, "nameko_entrypoints", ())
            if isinstance(entrypoint, ReliableEventHandler)}


@pytest.mark.parametrize("service", config.SERVICES)
def test_each_service_may_use_exactly_its_own_queues(service):
    cls = service_class(service)
    assert set(broker_identity.CONSUMES[service]) == sources(cls)
    permissions = broker_identity.service_permissions(service)
    own = [f"{service}.events", f"{service}.redelivery", f"rpc-{service}", "nameko-rpc"]
    for queue in handler_queues(cls):
        own += [queue, f"{queue}.retrying", f"{queue}.dead-letter"]
    for name in own:
        assert re.fullmatch(permissions["configure"], name), name
        assert re.fullmatch(permissions["write"], name), name
    others = [s for s in config.SERVICES if s != service]
    for other in others:
        for name in (f"{other}.events", f"{other}.redelivery", f"rpc-{other}"):
            assert not re.fullmatch(permissions["write"], name), name
            assert not re.fullmatch(permissions["configure"], name), name
        for queue in handler_queues(service_class(other)):
            assert not re.fullmatch(permissions["read"], queue), queue
    for name in ("amq.default", "", "amq.topic"):
        assert not re.fullmatch(permissions["write"], name)
    for source in broker_identity.CONSUMES[service]:
        assert re.fullmatch(permissions["read"], f"{source}.events")


def test_an_integrator_reads_only_its_organisations_keys():
    grants = broker_identity.integrator_topic_permissions("org-1")
    assert {g["exchange"] for g in grants} == {f"{s}.events" for s in config.SERVICES}
    read = grants[0]["read"]
    assert re.match(read, "org-1.SessionHeld") and re.match(read, "org-1.*")
    for key in ("org-10.SessionHeld", "org-2.*", "#", "*.SessionHeld", "org-1"):
        assert not re.match(read, key), key
    permissions = broker_identity.integrator_permissions("org-1")
    assert re.fullmatch(permissions["configure"], "integrator-org-1.feed")
    assert not re.fullmatch(permissions["configure"], "integrator-org-10.feed")
    assert not any(re.fullmatch(permissions["write"], f"{s}.events") for s in config.SERVICES)


def test_routing_key_carries_the_organisation():
    assert routing_key("org-1", "SessionHeld") == "org-1.SessionHeld"


@pytest.mark.parametrize("organisation", ["a.b", "#", "org*", "", "with space", "ä", "-x",
                                          "x" * 65])
def test_an_unroutable_organisation_id_is_refused(organisation):
    with pytest.raises(UnsafeOrganisationId) as refused:
        Context(organisation, "clinic-1")
    assert refused.value.status == 422 and "organisation_id" in refused.value.fields
    body = make_event("intake", "ClientRegistered", {}, "client-1").to_dict()
    body["organisationid"] = organisation or "."
    with pytest.raises(ValueError):  # a consumer dead-letters it as an invalid event
        Event.from_dict(body)


def test_a_service_may_have_its_own_broker_uri():
    env = {"PRAXIS_AMQP_URI": "amqp://shared@broker/", "PRAXIS_BILLING_AMQP_URI":
           "amqp://praxis-billing:secret@broker/"}
    assert config.load("billing", env).amqp_uri == "amqp://praxis-billing:secret@broker/"
    assert config.load("notes", env).amqp_uri == "amqp://shared@broker/"
    assert config.load("notes", {}).amqp_uri == "amqp://guest:guest@127.0.0.1:5672/"


def test_readme_shows_the_permission_sets_as_they_are():
    with open("README.md") as handle:
        readme = handle.read()
    block = readme.split("<!-- broker-identities:start -->", 1)[1].split(
        "<!-- broker-identities:end -->", 1)[0].strip()
    assert block == broker_identity.markdown()
