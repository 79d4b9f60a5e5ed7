"""`make run`: start the four services as separate processes on SQLite.

Checks first that RabbitMQ answers (and says how to get one if not), then
waits until each service's /healthz answers and prints its URL.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

from . import config

BROKER_HELP = """\
RabbitMQ does not answer at {where}. Praxis needs it (the one service it needs).
Start one, then run `make run` again:
  - Debian/Ubuntu:  sudo apt-get install rabbitmq-server && sudo rabbitmq-server -detached
  - Docker:         docker run -d --name praxis-rabbit -p 5672:5672 -p 15672:15672 rabbitmq:3.13-management
  - elsewhere:      set PRAXIS_AMQP_URI=amqp://user:password@host:5672/
"""


def broker_answers(amqp_uri):
    parsed = urlparse(amqp_uri)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 5672), timeout=3):
            return True
    except OSError:
        return False


def healthy(url):
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main():
    settings = {name: config.load(name) for name in config.SERVICES}
    amqp_uri = settings["intake"].amqp_uri
    if not broker_answers(amqp_uri):
        parsed = urlparse(amqp_uri)
        print(BROKER_HELP.format(where=f"{parsed.hostname}:{parsed.port or 5672}"),
              file=sys.stderr)
        return 1
    os.makedirs(os.environ.get("PRAXIS_DATA_DIR", "var"), exist_ok=True)
    children = {name: subprocess.Popen([sys.executable, "-m", "shared.runner", name])
                for name in config.SERVICES}

    def stop(*_):
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    deadline = time.monotonic() + 60
    waiting = set(config.SERVICES)
    while waiting and time.monotonic() < deadline:
        for name in list(waiting):
            if children[name].poll() is not None:
                print(f"{name} exited with {children[name].returncode} "
                      f"(is port {settings[name].port} free?)", file=sys.stderr)
                stop()
            if healthy(settings[name].base_url):
                waiting.discard(name)
        time.sleep(0.2)
    if waiting:
        print(f"not healthy after 60s: {', '.join(sorted(waiting))}", file=sys.stderr)
        stop()
    print("\nPraxis is running (Ctrl-C stops it):")
    for name in config.SERVICES:
        print(f"  {name:<11} {settings[name].base_url}")
    print("\nA token for curl:  export TOKEN=$(make -s token)\n", flush=True)
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} stopped (exit {child.returncode}); stopping the rest",
                      file=sys.stderr)
                stop()
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
