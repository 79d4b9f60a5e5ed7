"""Each service's subscription table agrees with what its application reacts to
and its projection takes, and the kernel makes its handlers and queues from it."""
import inspect

import pytest
from sqlalchemy import MetaData

from shared import broker_identity, config
from shared.application import Application
from shared.consumer import ReliableEventHandler, handler_queues, subscription_queue
from shared.events import catalogue
from shared.projection import Projection
from shared.runner import service_class
from shared.subscriptions import READ_MODELS, Subscriptions, disagreements


def application_of(service):
    return service_class(service).praxis.application_class


@pytest.mark.parametrize("service", config.SERVICES)
def test_every_projected_or_reacted_to_event_is_subscribed_and_the_reverse(service):
    assert disagreements(service, application_of(service), catalogue) == []


@pytest.mark.parametrize("service", config.SERVICES)
def test_the_service_has_one_handler_and_queue_per_producer_bound_to_all_it_publishes(service):
    subscriptions = application_of(service).subscriptions
    cls = service_class(service)
    handlers = [entrypoint for _name, method in inspect.getmembers(cls)
                for entrypoint in getattr(method, "nameko_entrypoints", ())
                if isinstance(entrypoint, ReliableEventHandler)]
    assert sorted(h.source_service for h in handlers) == subscriptions.producers()
    for handler in handlers:
        # Every published event, taken or not: per stream the consumer sees each
        # version, so a missing one is a gap, not an event it does not take.
        names = list(handler.event_names)
        assert names == catalogue.published_names(handler.source_service)
        assert set(subscriptions.events_of(handler.source_service)) <= set(names)
        assert not any(catalogue.is_private(catalogue.latest_type(handler.source_service, n))
                       for n in names)
    assert handler_queues(cls) == [f"evt-{producer}--{service}"
                                   for producer in subscriptions.producers()]
    assert set(broker_identity.CONSUMES[service]) == set(subscriptions.producers())


def test_a_queue_is_bound_to_each_event_of_every_organisation_one_consumer_at_a_time():
    queue = subscription_queue("intake", "billing", ["ClientRegistered", "ClientAssessed"])
    assert queue.name == "evt-intake--billing"
    assert {(b.exchange.name, b.routing_key) for b in queue.bindings} == {
        ("intake.events", "*.ClientRegistered"), ("intake.events", "*.ClientAssessed")}
    assert queue.queue_arguments["x-single-active-consumer"] is True


# -- the check fails when the three disagree ----------------------------------------
def probe(table, projected=()):
    projection = Projection(MetaData())
    for name in projected:
        projection.on(name)(lambda conn, event: None)

    class ProbeApplication(Application):
        service = "probe"
        subscriptions = Subscriptions(table)

        def charge(self, uow, event, context):
            pass

    ProbeApplication.projection = projection
    return ProbeApplication


def test_a_projected_event_that_is_not_subscribed_is_reported():
    found = disagreements("billing", probe({}, projected=["SessionHeld"]), catalogue)
    assert found == ["billing's projection takes scheduling.SessionHeld, which it does "
                     "not subscribe to"]


def test_a_subscribed_event_nothing_takes_is_reported():
    found = disagreements("billing", probe({("scheduling", "SessionHeld"): READ_MODELS}),
                          catalogue)
    assert found == ["billing subscribes to scheduling.SessionHeld for its read models, "
                     "but no projection takes it"]


def test_a_reaction_the_application_lacks_is_reported():
    found = disagreements("billing", probe({("scheduling", "SessionHeld"): "bill"}), catalogue)
    assert found == ["billing reacts to SessionHeld with bill, which ProbeApplication has not"]


def test_a_subscription_to_what_the_producer_does_not_publish_is_reported():
    found = disagreements("billing", probe({("intake", "SessionHeld"): "charge",
                                            ("notes", "NoteAddendumAdded"): "charge"}),
                          catalogue)
    assert found == [
        "billing subscribes to intake.SessionHeld, which intake does not publish",
        "billing subscribes to notes.NoteAddendumAdded, which is private"]
