"""`make run`'s launcher as a real process with its four real services: when one
service dies it says which, how and its last output, stops the others and fails."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from shared.config import SERVICES
from tests.support import KEYS, SECRET, free_port, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class Launcher:
    """`python -m shared.launcher`, its stdout and stderr collected as they come."""

    def __init__(self, amqp_uri, tmp_path, ports, close_stdout_after_banner=False):
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("PRAXIS_") and k.endswith("_DATABASE_URL"))}
        env.update({"PRAXIS_AMQP_URI": amqp_uri, "PRAXIS_TOKEN_SECRET": SECRET,
                    "PRAXIS_KEY_ENCRYPTION_KEYS": KEYS,
                    "PRAXIS_DATA_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
        env.update({f"PRAXIS_{s.upper()}_PORT": str(p) for s, p in ports.items()})
        self.ports = ports
        self.process = subprocess.Popen([sys.executable, "-m", "shared.launcher"], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True)
        self.out, self.err = [], []
        self.close_stdout_after_banner = close_stdout_after_banner
        self.readers = [threading.Thread(target=self._collect, args=(pipe, lines), daemon=True)
                        for pipe, lines in ((self.process.stdout, self.out),
                                            (self.process.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    def _collect(self, pipe, lines):
        for line in pipe:
            lines.append(line)
            if pipe is self.process.stdout and self.close_stdout_after_banner \
                    and line.startswith("A token for curl"):
                pipe.close()  # like `make run | head`: nobody reads the output any more
                return

    def stdout(self):
        return "".join(self.out)

    def stderr(self):
        return "".join(self.err)

    def pids(self):
        """{service: pid} from the banner once every service is healthy."""
        def banner():
            if self.process.poll() is not None:
                raise AssertionError(f"launcher exited with {self.process.returncode}:\n"
                                     f"{self.stderr()}\n{self.stdout()[-3000:]}")
            found = dict(re.findall(r"^  (\w+)\s+http://\S+\s+\(pid (\d+)\)$", self.stdout(),
                                    re.M))
            return found if set(found) == set(SERVICES) else None
        return {name: int(pid) for name, pid in
                wait_until(banner, timeout=120, message="the launcher's banner").items()}

    def wait(self):
        """The exit status (the timeout guards against a launcher that never ends)."""
        status = self.process.wait(timeout=90)
        for reader in self.readers:
            reader.join(timeout=10)
        return status

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def ports():
    return {service: free_port() for service in SERVICES}


@pytest.fixture
def launch(amqp_uri, tmp_path, ports):
    started = []

    def start(**options):
        launcher = Launcher(amqp_uri, tmp_path, ports, **options)
        started.append(launcher)
        return launcher
    yield start
    for launcher in started:
        launcher.stop()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("how, said", [
    (signal.SIGKILL, "killed by signal SIGKILL"),
    (signal.SIGTERM, "exit status 0"),  # a clean stop of one service is still a failure
])
def test_a_service_that_dies_fails_the_launcher_and_stops_the_others(launch, ports, how,
                                                                     said):
    launcher = launch()
    pids = launcher.pids()
    assert all(answers(port) for port in ports.values())

    os.kill(pids["notes"], how)

    assert launcher.wait() == 1
    err = launcher.stderr()
    assert f"notes died ({said}); its last output:" in err, err
    # The tail is notes' own output (its JSON log lines), not another service's.
    tail = err.split("its last output:", 1)[1].split("stopping the other services", 1)[0]
    assert '"service": "notes"' in tail and "starting notes on" in tail, tail
    assert '"service": "billing"' not in tail
    assert "stopping the other services: intake, scheduling, billing" in err
    for name, pid in pids.items():
        assert not alive(pid), f"{name} (pid {pid}) still runs"
        assert not answers(ports[name]), f"{name} still answers on {ports[name]}"


def test_a_service_that_cannot_start_fails_the_launcher_with_its_reason(launch, ports):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["notes"]))
        taken.listen()
        launcher = launch()
        status = launcher.wait()
    err = launcher.stderr()
    assert status == 1, err
    assert re.search(r"notes exited while starting \(exit status [1-9]\d*\); its last output:",
                     err), err
    assert "address already in use" in err.lower(), err
    assert "stopping the other services: intake, scheduling, billing" in err
    assert "Praxis is running" not in launcher.stdout()
    for name in ("intake", "scheduling", "billing"):
        assert not answers(ports[name]), f"{name} still answers"


def test_sigterm_stops_every_service_and_exits_0(launch, ports):
    launcher = launch()
    pids = launcher.pids()
    launcher.process.send_signal(signal.SIGTERM)
    assert launcher.wait() == 0, launcher.stderr()
    assert "died" not in launcher.stderr()
    assert not any(alive(pid) for pid in pids.values())


def test_ctrl_c_stops_every_service_once_and_exits_0(launch, ports):
    """A terminal's Ctrl-C signals the whole foreground process group: the services
    must hear it from the launcher only (a second stop raised in nameko's timers)."""
    launcher = launch()
    pids = launcher.pids()
    os.killpg(launcher.process.pid, signal.SIGINT)
    assert launcher.wait() == 0, launcher.stderr()
    output = launcher.stdout() + launcher.stderr()
    assert "Traceback" not in output, output[-3000:]
    assert not any(alive(pid) for pid in pids.values())


def test_services_keep_answering_when_nobody_reads_the_launchers_output(launch, ports):
    launcher = launch(close_stdout_after_banner=True)
    launcher.pids()
    wait_until(lambda: launcher.process.stdout.closed, message="our end of stdout closed")
    # Each request logs a line; far more than a pipe holds (64 KiB) must pass.
    url = f"http://127.0.0.1:{ports['notes']}/livez"
    with requests.Session() as session:
        for _ in range(800):
            assert session.get(url, timeout=30).status_code == 200
    assert launcher.process.poll() is None, launcher.stderr()
