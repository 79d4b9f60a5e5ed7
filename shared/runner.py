"""Run one Praxis service as its own process: `python -m shared.runner intake`."""
import eventlet

eventlet.monkey_patch()  # first, before anything imports socket or threading

import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()  # PostgreSQL waits yield to other green threads

from nameko.cli.run import run  # noqa: E402

from . import config, logs  # noqa: E402


def service_class(name):
    return importlib.import_module(f"services.{name}.service").Service


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in config.SERVICES:
        print(f"usage: python -m shared.runner {{{','.join(config.SERVICES)}}}", file=sys.stderr)
        return 2
    settings = config.load(argv[0])
    logs.configure(settings.service)
    if settings.database_url.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(settings.database_url[len("sqlite:///"):]), exist_ok=True)
    try:
        warnings = config.check(settings)
    except config.ConfigError as exc:
        print(f"praxis {settings.service} refuses to start: {exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        logging.getLogger(__name__).warning(warning)
    logging.getLogger(__name__).info("starting %s on %s", settings.service, settings.base_url)
    run([service_class(settings.service)], config.nameko_config(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
