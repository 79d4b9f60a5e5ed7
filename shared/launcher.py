"""`make run`: start the four services as separate processes on SQLite.

Checks first that RabbitMQ answers (and says how to get one if not), then
waits until each service's /healthz answers and prints its URL. When a service
ends, it says which, how (exit status or signal) and its last lines of output,
stops the others and exits with status 1; Ctrl-C or SIGTERM stops all with 0.
"""
import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import urlparse

from . import config

TAIL_LINES = 20  # of a dead service's output, to say why it died
_output = threading.Lock()  # one service's line at a time on our stdout

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


class Service:
    """One service process: its output passes on to ours, and its last lines are kept
    so that, when it dies, we can say why."""

    def __init__(self, name, settings):
        self.name, self.settings = name, settings
        self.tail = collections.deque(maxlen=TAIL_LINES)
        # Unbuffered, so the lines just before a crash reach us. A process group of its
        # own: a terminal's Ctrl-C reaches the whole foreground group, and a service
        # stopped by it and then by our SIGTERM stopped twice (nameko's timers raised).
        self.process = subprocess.Popen([sys.executable, "-m", "shared.runner", name],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                        process_group=0)
        self.reader = threading.Thread(target=self._forward, daemon=True)
        self.reader.start()

    def _forward(self):
        for line in iter(self.process.stdout.readline, b""):
            self.tail.append(line.decode("utf-8", "replace").rstrip("\n"))
            with _output:
                try:
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
                except OSError:  # our output went away: keep draining, or the service blocks
                    pass

    def ended(self):
        return self.process.poll() is not None

    def how_it_ended(self):
        code = self.process.returncode
        if code is not None and code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def obituary(self, when):
        self.reader.join(timeout=5)  # its last lines, written before it ended
        lines = "\n".join(f"  | {line}" for line in self.tail) or "  (no output)"
        return (f"{self.name} {when} ({self.how_it_ended()}); its last output:\n{lines}")


class Stopped(Exception):
    """SIGTERM, or SIGHUP (the terminal closed; the services, in groups of their own,
    hear nothing of it): stop like Ctrl-C does."""


def _stopped(*_):
    raise Stopped()


def stop_all(services):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for service in services.values():
        if not service.ended():
            service.process.terminate()
    for service in services.values():
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
        service.reader.join(timeout=5)


def supervise(services):
    """Wait until every service is healthy, then watch them; the status to exit with
    when one ends (a service never ends on its own: that is a failure)."""
    deadline = time.monotonic() + 60
    waiting = set(services)
    while waiting:
        for name in list(waiting):
            service = services[name]
            if service.ended():
                return _failed(services, service, "exited while starting")
            if healthy(service.settings.base_url):
                waiting.discard(name)
        if waiting and time.monotonic() > deadline:
            print(f"not healthy after 60s: {', '.join(sorted(waiting))}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    with _output:
        print("\nPraxis is running (Ctrl-C stops it):")
        for name, service in services.items():
            print(f"  {name:<11} {service.settings.base_url}  (pid {service.process.pid})")
        print("\nA token for curl:  export TOKEN=$(make -s token)\n", flush=True)
    while True:
        for service in services.values():
            if service.ended():
                return _failed(services, service, "died")
        time.sleep(0.5)


def _failed(services, service, what):
    others = [name for name in services if name != service.name]
    print(f"{service.obituary(what)}\nstopping the other services: {', '.join(others)}",
          file=sys.stderr, flush=True)
    return 1


def main():
    settings = {name: config.load(name) for name in config.SERVICES}
    amqp_uri = settings["intake"].amqp_uri
    if not broker_answers(amqp_uri):
        parsed = urlparse(amqp_uri)
        print(BROKER_HELP.format(where=f"{parsed.hostname}:{parsed.port or 5672}"),
              file=sys.stderr)
        return 1
    os.makedirs(os.environ.get("PRAXIS_DATA_DIR", "var"), exist_ok=True)
    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGHUP, _stopped)
    services = {}
    try:
        for name in config.SERVICES:
            services[name] = Service(name, settings[name])
        return supervise(services)
    except (KeyboardInterrupt, Stopped):
        return 0  # asked to stop: not a failure
    finally:
        stop_all(services)


if __name__ == "__main__":
    sys.exit(main())
