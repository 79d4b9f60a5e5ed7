"""Operator commands: `python -m shared.cli
{token,rebuild,dead-letters,accept-gap,backup,restore,audit-verify,audit-report} ...`."""
import argparse
import importlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

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
    # Beside the live tables, swapped in at the end: the service keeps serving meanwhile.
    count = rebuild(store)
    if count is None:
        print(f"{args.service}: another rebuild swapped new read models in first")
    else:
        print(f"{args.service}: read models rebuilt from {count} events")


def cmd_rotate_keys(args):
    """Re-wrap every client's data key under the first PRAXIS_KEY_ENCRYPTION_KEYS key,
    in each service's store; events are not rewritten. Afterwards an old key may be
    dropped from the list."""
    from .events import catalogue
    from .store import EventStore

    for service in args.service or config.SERVICES:
        settings = config.load(service)
        store = EventStore(settings.database_url, service, catalogue)
        store.create_schema()
        with store.write() as conn:
            count = store.keyring.rewrap_all(conn)
        print(f"{service}: {count} data keys re-wrapped under "
              f"{store.keyring.keks.current_id}")
        store.engine.dispose()


def libpq_url(database_url):
    """The service's PostgreSQL URL as pg_dump and pg_restore take it (no SQLAlchemy
    driver suffix); a SQLite store has no such tools (copy its file with the
    service stopped)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise SystemExit(f"backup and restore are for a PostgreSQL store; this one is "
                         f"{scheme or database_url!r} (a SQLite store: copy its file while "
                         "the service is stopped)")
    return "postgresql://" + rest


def cmd_backup(args):
    """pg_dump -Fc of the service's store: its events, outbox, audit trail and read
    models, in one consistent snapshot (pg_dump reads in one transaction)."""
    import subprocess

    url = libpq_url(config.load(args.service).database_url)
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                    f"--file={args.file}", f"--dbname={url}"], check=True)
    print(json.dumps({"service": args.service, "backup": args.file}))


def cmd_restore(args):
    """pg_restore a backup into the service's database, which must be fresh (made
    here if missing; refused if it holds any table), then rebuild the read models
    from the restored events with this release's projections."""
    import subprocess

    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.engine import make_url

    url = libpq_url(config.load(args.service).database_url)
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                  {"name": target.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    engine = create_engine(target)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        print(f"restore: database {target.database!r} is not fresh (it holds "
              f"{', '.join(sorted(tables)[:5])}...); restore into a new, empty database "
              "(point PRAXIS_" + args.service.upper() + "_DATABASE_URL at it)", file=sys.stderr)
        return 2
    subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                    "--single-transaction", f"--dbname={url}", args.file], check=True)
    print(json.dumps({"service": args.service, "restored": args.file}))
    if not args.no_rebuild:
        return cmd_rebuild(args)


def cmd_dead_letters(args):
    from . import dead_letters

    settings = config.load(args.service)
    queues = [args.queue] if args.queue else handler_queues(args.service)
    for queue in queues:
        if args.replay:
            count = dead_letters.replay(settings.amqp_uri, queue,
                                        queue_type=settings.queue_type)
            print(json.dumps({"queue": queue, "replayed": count}))
        else:
            # Paged (--offset, --limit; all by default); the last line of each queue
            # says how many it holds and where the next page starts.
            letters, total = dead_letters.page(settings.amqp_uri, queue, args.offset,
                                               args.limit, settings.queue_type)
            for letter in letters:
                print(json.dumps({"queue": queue, **letter}, default=str))
            shown_to = args.offset + len(letters)
            print(json.dumps({"queue": queue, "total": total, "offset": args.offset,
                              "shown": len(letters),
                              "next_offset": shown_to if shown_to < total else None}))
    if not args.replay:
        # Not dead letters but also waiting: reactions deferred in the store for a fact.
        for row in _deferred(args.service, settings):
            print(json.dumps({"deferred": True, **row}))


def cmd_accept_gap(args):
    """Pass a stream's versions up to VERSION that will never come, so what waits
    behind them (held, or dead-lettered "gap" and then replayed) is applied."""
    settings = config.load(args.service)
    application_class = service_class(args.service).praxis.application_class
    application = application_class(settings.database_url, settings.amqp_uri)
    applied = application.accept_gap(args.stream, args.version)
    print(json.dumps({"stream": args.stream, "passed_to": args.version, "applied": applied}))


def _deferred(service, settings):
    from . import deferred
    from .events import catalogue
    from .store import EventStore

    store = EventStore(settings.database_url, service, catalogue)
    store.create_schema()
    with store.read() as conn:
        return deferred.listing(conn, limit=1000)


def _known_service(name):
    if name not in config.SERVICES:
        raise argparse.ArgumentTypeError(f"unknown service {name!r}; one of "
                                         f"{', '.join(config.SERVICES)}")
    return name


def cmd_audit_verify(args):
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from . import audit
    from .store import make_engine

    failed = False
    for service in args.service or config.SERVICES:
        engine = make_engine(config.load(service).database_url)
        try:
            if not inspect(engine).has_table(audit.audit_trail.name):
                count, problem = 0, "no audit trail in this database"
            else:
                count, problem = audit.verify(engine)
                head = audit.head_of(engine)
        except SQLAlchemyError as exc:
            count, problem = 0, f"cannot read the database: {exc.__class__.__name__}"
        finally:
            engine.dispose()
        if problem:
            failed = True
            print(f"{service}: {problem}")
        else:
            print(f"{service}: {count} rows, chain intact, head {head.seq} {head.hash}")
    return 1 if failed else 0


def _service_accesses(base_url, token, params):
    """Every page of one service's GET /audit/accesses."""
    rows, cursor = [], 0
    while cursor is not None:
        query = urllib.parse.urlencode({**params, "limit": 1000, "cursor": cursor})
        request = urllib.request.Request(f"{base_url}/audit/accesses?{query}", headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.load(response)
        rows.extend(page["accesses"])
        cursor = page["next_cursor"]
    return rows


def cmd_audit_report(args):
    from . import audit

    token = args.token or os.environ.get("PRAXIS_TOKEN")
    if not token:
        print("audit-report needs a privacy_officer or admin token: --token or PRAXIS_TOKEN",
              file=sys.stderr)
        return 2
    params = {k: v for k, v in (("client_id", args.client_id), ("user_id", args.user_id),
                                ("from", args.from_), ("to", args.to)) if v}
    rows = []
    for service in config.SERVICES:
        base_url = config.load(service).base_url
        try:
            rows.extend(_service_accesses(base_url, token, params))
        except (urllib.error.URLError, OSError) as exc:  # a partial report would mislead
            detail = exc.read().decode(errors="replace") if isinstance(
                exc, urllib.error.HTTPError) else exc
            print(f"audit-report: {service} at {base_url}: {detail}", file=sys.stderr)
            return 1
    rows.sort(key=lambda row: (row["recorded_at"], row["service"], row["seq"]))
    if args.format == "csv":
        sys.stdout.write(audit.to_csv(rows))
    else:
        print(json.dumps({"accesses": rows}, indent=2))
    return 0


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

    rebuild = commands.add_parser("rebuild", help="replay a service's read models into new "
                                "tables and swap them in (the service keeps serving)")
    rebuild.add_argument("service", choices=config.SERVICES)
    rebuild.set_defaults(run=cmd_rebuild)

    rotate = commands.add_parser("rotate-keys",
                                 help="re-wrap the clients' data keys under the current "
                                      "key-encryption key (the first listed)")
    rotate.add_argument("service", nargs="*", type=_known_service,
                        help=f"any of {', '.join(config.SERVICES)}; default: all four")
    rotate.set_defaults(run=cmd_rotate_keys)

    backup = commands.add_parser("backup", help="pg_dump -Fc of a service's PostgreSQL "
                                                "store (PRAXIS_<SERVICE>_DATABASE_URL)")
    backup.add_argument("service", choices=config.SERVICES)
    backup.add_argument("--file", required=True, help="where to write the dump")
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser("restore", help="pg_restore a backup into a fresh "
                                                  "database, then rebuild the read models")
    restore.add_argument("service", choices=config.SERVICES)
    restore.add_argument("--file", required=True, help="a dump made by backup")
    restore.add_argument("--no-rebuild", action="store_true",
                         help="keep the read models as dumped")
    restore.set_defaults(run=cmd_restore)

    letters = commands.add_parser("dead-letters", help="inspect or replay dead-lettered events")
    letters.add_argument("service", choices=config.SERVICES)
    letters.add_argument("--queue", help="one handler queue (default: all of the service)")
    letters.add_argument("--replay", action="store_true",
                         help="send them back to their handler queue")
    letters.add_argument("--offset", type=int, default=0, help="list from this letter on")
    letters.add_argument("--limit", type=int, default=None,
                         help="list at most this many (default: all)")
    letters.set_defaults(run=cmd_dead_letters)

    gap = commands.add_parser(
        "accept-gap", help="accept that a stream's versions up to VERSION will never come "
                           "(its events dead-lettered \"gap\" then apply on replay)")
    gap.add_argument("service", choices=config.SERVICES)
    gap.add_argument("stream", help="as dead-letters shows it, e.g. intake/client-<id>")
    gap.add_argument("version", type=int, help="the version the held events wait for")
    gap.set_defaults(run=cmd_accept_gap)

    verify = commands.add_parser("audit-verify",
                                 help="walk the audit trail's hash chain; non-zero at the "
                                      "first bad row")
    # No choices=: argparse (3.11) refuses an empty list against them.
    verify.add_argument("service", nargs="*", type=_known_service,
                        help=f"any of {', '.join(config.SERVICES)}; default: all four")
    verify.set_defaults(run=cmd_audit_verify)

    report = commands.add_parser("audit-report",
                                 help="who looked at a client, or what a user looked at, "
                                      "across the four services")
    subject = report.add_mutually_exclusive_group(required=True)
    subject.add_argument("--client-id")
    subject.add_argument("--user-id")
    report.add_argument("--from", dest="from_", help="ISO 8601 time, inclusive")
    report.add_argument("--to", help="ISO 8601 time, exclusive")
    report.add_argument("--format", choices=("json", "csv"), default="json")
    report.add_argument("--token", help="default: $PRAXIS_TOKEN")
    report.set_defaults(run=cmd_audit_report)

    args = parser.parse_args(argv)
    if args.command == "token" and args.clinic is None:
        args.clinic = ["clinic-1"]
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
