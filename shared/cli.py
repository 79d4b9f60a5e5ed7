"""Operator commands: `python -m shared.cli {token,rebuild,dead-letters} ...`."""
import argparse
import importlib
import json
import sys

from . import config


def service_class(name):
    return importlib.import_module(f"services.{name}.service").Service


def handler_queues(name):
    from .consumer import handler_queues as of_class

    return of_class(service_class(name))


def cmd_token(args):
    from .auth import issue_token

    settings = config.load(args.service)
    if settings.oidc_issuer:
        print(f"PRAXIS_OIDC_ISSUER is set: the services accept only tokens of "
              f"{settings.oidc_issuer}; sign in there (this command issues development "
              "tokens)", file=sys.stderr)
        return 2
    try:
        print(issue_token(settings.token_secret, args.user, args.role, args.org, args.clinic,
                          ttl_seconds=args.ttl, client_id=args.client_id))
    except ValueError as exc:
        print(f"token: {exc} (make token ROLE=client CLIENT_ID=<the client's id>)",
              file=sys.stderr)
        return 2


def cmd_rebuild(args):
    from .events import catalogue
    from .projection import rebuild
    from .store import EventStore

    settings = config.load(args.service)
    application = service_class(args.service).praxis.application_class
    store = EventStore(settings.database_url, args.service, catalogue, application.projection)
    store.create_schema()
    count = rebuild(store)
    print(f"{args.service}: read models rebuilt from {count} events")


def cmd_dead_letters(args):
    from . import dead_letters

    settings = config.load(args.service)
    queues = [args.queue] if args.queue else handler_queues(args.service)
    for queue in queues:
        if args.replay:
            count = dead_letters.replay(settings.amqp_uri, queue)
            print(json.dumps({"queue": queue, "replayed": count}))
        else:
            for letter in dead_letters.inspect(settings.amqp_uri, queue):
                print(json.dumps({"queue": queue, **letter}))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m shared.cli")
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="issue a development bearer token (HS256, "
                                "PRAXIS_TOKEN_SECRET)")
    token.add_argument("--role", default="admin")
    token.add_argument("--org", default="org-1")
    token.add_argument("--clinic", action="append", default=None,
                       help="repeatable; '*' for every clinic of the organisation")
    token.add_argument("--user", default="local-user", help="the user id (e.g. a clinician's)")
    token.add_argument("--client-id", help="with --role client: the client's own id")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    token.add_argument("--service", default="intake", help=argparse.SUPPRESS)
    token.set_defaults(run=cmd_token)

    rebuild = commands.add_parser("rebuild", help="drop and replay a service's read models")
    rebuild.add_argument("service", choices=config.SERVICES)
    rebuild.set_defaults(run=cmd_rebuild)

    letters = commands.add_parser("dead-letters", help="inspect or replay dead-lettered events")
    letters.add_argument("service", choices=config.SERVICES)
    letters.add_argument("--queue", help="one handler queue (default: all of the service)")
    letters.add_argument("--replay", action="store_true",
                         help="send them back to their handler queue")
    letters.set_defaults(run=cmd_dead_letters)

    args = parser.parse_args(argv)
    if args.command == "token" and args.clinic is None:
        args.clinic = ["clinic-1"]
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
