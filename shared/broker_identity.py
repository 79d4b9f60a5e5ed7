"""Broker identities: the RabbitMQ user each service connects as, and the
permissions that let it run and nothing more.

RabbitMQ grants per vhost three regexes over resource names: configure
(declare, delete), write (publish to an exchange; bind a queue: write on the
queue) and read (consume a queue; bind: read on the exchange). With these:

- only a service's own user may publish to `<service>.events`, so the broker
  refuses a forged event from anyone else (ACCESS_REFUSED);
- nobody has write on the default exchange (`amq.default`), which would reach
  every queue: consumers copy failed deliveries through `<service>.redelivery`;
- a consumer declares the producer's exchange passively (no configure on it)
  and needs only read on it, to bind its queues.

Integrators of an organisation bind their own queues (`integrator-<org>.*`)
and a topic permission per exchange confines their bindings to routing keys
`<org>.*`, so they receive their organisation's events only.

Plain Python (no application imports): deploy/tools/generate.py reads it too.
`python -m shared.broker_identity` prints the sets as the README shows them.
"""

SERVICES = ("intake", "scheduling", "notes", "billing")
# Whose events each service consumes (a unit test keeps this equal to the
# producers of the services' subscription tables, services/*/subscriptions.py).
CONSUMES = {
    "intake": ("notes", "scheduling"),  # notes: supervision, for care teams
    "scheduling": ("intake", "notes"),
    "notes": ("intake", "scheduling"),
    "billing": ("intake", "notes", "scheduling"),
}
RPC_EXCHANGE = "nameko-rpc"


def username(service):
    return f"praxis-{service}"


def integrator_username(organisation_id):
    return f"integrator-{organisation_id}"


def _handler_queues(service):
    # evt-<producer>--<service> (one per producer), its .retrying and .dead-letter
    sources = "|".join(CONSUMES[service])
    return rf"evt-({sources})--{service}(\.retrying|\.dead-letter)?"


def service_permissions(service):
    """{"configure", "write", "read"} regexes for a service's own user."""
    own = [rf"{service}\.events", rf"{service}\.redelivery", _handler_queues(service),
           rf"rpc-{service}", RPC_EXCHANGE]
    foreign = [rf"{source}\.events" for source in CONSUMES[service]]
    # configure: declare what it owns (nameko's RPC exchange is shared by design);
    # write: publish its events, copies and RPC replies, and bind its own queues;
    # read: bind to the exchanges it consumes and to its own, consume its queues.
    reads = foreign + own[1:]
    return {"configure": _anchored(own), "write": _anchored(own), "read": _anchored(reads)}


def integrator_permissions(organisation_id):
    """An organisation's integrator: its own queues, bound to any Praxis exchange."""
    queues = rf"{integrator_username(organisation_id)}\..+"
    exchanges = [rf"{service}\.events" for service in SERVICES]
    return {"configure": _anchored([queues]), "write": _anchored([queues]),
            "read": _anchored([queues] + exchanges)}


def integrator_topic_permissions(organisation_id):
    """Per exchange: bind (read) only to the organisation's routing keys; publish
    (write) nothing: the vhost permission already refuses, this says it twice."""
    read = rf"^{organisation_id}\."  # ids are [A-Za-z0-9_-] (shared/envelope.py)
    return [{"exchange": f"{service}.events", "write": "^$", "read": read}
            for service in SERVICES]


def _anchored(alternatives):
    return "^(" + "|".join(alternatives) + ")$"


def markdown():
    """The permission sets as the README shows them (regexes hold "|": no table)."""
    lines = ["```"]
    users = [(username(s), service_permissions(s)) for s in SERVICES]
    users.append((integrator_username("<org>"), integrator_permissions("<org>")))
    for user, permissions in users:
        lines.append(f"{user}")
        lines += [f"  {kind:<9}  {permissions[kind]}" for kind in ("configure", "write", "read")]
    grant = integrator_topic_permissions("<org>")[0]
    lines.append(f"{integrator_username('<org>')}, topic permission on each <service>.events")
    lines += [f"  {kind:<9}  {grant[kind]}" for kind in ("write", "read")]
    lines.append("```")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
