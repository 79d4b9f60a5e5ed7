"""What a service consumes: one table (producer, event name) -> what it does.

Each service declares it once, in services/<service>/subscriptions.py: a
reaction (the name of an application method, run in the unit of work that
records the event) or READ_MODELS (only the projection takes it; every consumed
event is also projected). From the table the kernel makes one nameko entrypoint
and one durable queue per producer (shared/consumer.py), bound to every event
that producer publishes, so a producer's events arrive in the order it published
them and none of a stream's versions is unseen; one not in the table is accounted
for by its position only (shared/store.py). `disagreements` keeps the table, the reactions and the
projection in step (tests/unit/test_subscriptions.py).

`python -m shared.subscriptions [--write README.md]` prints the README's "who
consumes what" block (`make catalogue` rewrites it).
"""
import importlib
import sys

from . import readme_blocks

READ_MODELS = None  # the event feeds read models only: no reaction


class Subscriptions:
    def __init__(self, table):
        self.table = dict(table)

    def producers(self):
        return sorted({producer for producer, _ in self.table})

    def events_of(self, producer):
        """The event names taken from `producer`, sorted."""
        return sorted(name for source, name in self.table if source == producer)

    def reaction(self, producer, name):
        """The application method reacting to the event, or None."""
        return self.table.get((producer, name))

    def __contains__(self, key):
        return key in self.table

    def __iter__(self):
        return iter(sorted(self.table))


def disagreements(service, application_class, catalogue):
    """What the table, the reactions and the projection disagree on, one sentence
    each ([] when they agree): an event projected or reacted to but not subscribed,
    a subscribed event nothing takes, a reaction the application lacks."""
    subscriptions = application_class.subscriptions
    producer_of = {spec.name: spec.service for spec in catalogue.specs()}
    private = {(spec.service, spec.name) for spec in catalogue.specs() if spec.private}
    projected = set(application_class.projection.handled()) \
        if application_class.projection is not None else set()
    found = []
    for producer, name in subscriptions:
        if producer == service or producer_of.get(name) != producer:
            found.append(f"{service} subscribes to {producer}.{name}, which {producer} "
                         "does not publish")
        elif (producer, name) in private:
            found.append(f"{service} subscribes to {producer}.{name}, which is private")
        reaction = subscriptions.reaction(producer, name)
        if reaction is not READ_MODELS and not callable(
                getattr(application_class, reaction, None)):
            found.append(f"{service} reacts to {name} with {reaction}, which "
                         f"{application_class.__name__} has not")
        if reaction is READ_MODELS and name not in projected:
            found.append(f"{service} subscribes to {producer}.{name} for its read models, "
                         "but no projection takes it")
    for name in sorted(projected):
        producer = producer_of.get(name)
        if producer is not None and producer != service and (producer, name) not in subscriptions:
            found.append(f"{service}'s projection takes {producer}.{name}, which it does "
                         "not subscribe to")
    return found


def of(service):
    """A service's table (services/<service>/subscriptions.py)."""
    return importlib.import_module(f"services.{service}.subscriptions").SUBSCRIPTIONS


def markdown(services):
    """The README's "who consumes what": a row per consuming service and producer."""
    from .consumer import subscription_queue_name
    lines = ["| service | its queue (bound to every event of `<producer>.events`) | takes | "
             "reactions (the rest feed read models only) |", "|---|---|---|---|"]
    for service in services:
        subscriptions = of(service)
        for producer in subscriptions.producers():
            names = subscriptions.events_of(producer)
            reactions = [f"`{name}`: {subscriptions.reaction(producer, name)}"
                         for name in names
                         if subscriptions.reaction(producer, name) is not READ_MODELS]
            lines.append(f"| {service} | `{subscription_queue_name(producer, service)}` "
                         f"| {producer}: {', '.join(f'`{n}`' for n in names)} "
                         f"| {', '.join(reactions) or '-'} |")
    return "\n".join(lines)


def write(path, services):
    readme_blocks.write(path, "consumers", markdown(services))


if __name__ == "__main__":
    from .config import SERVICES
    if sys.argv[1:2] == ["--write"]:
        write(sys.argv[2], SERVICES)
    else:
        print(markdown(SERVICES))
