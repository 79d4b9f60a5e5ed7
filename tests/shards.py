"""`make test`: the whole suite as two pytest processes side by side, sharing one
queue of test files.

Most of the suite waits on RabbitMQ, PostgreSQL and service processes rather than on
the CPU, so two processes finish it in far less time than one. pytest-xdist cannot
do this: its workers talk to the controller over real threads, which eventlet's
monkey-patching (tests/conftest.py) stalls. Every fixture already isolates a test
(its own vhost, database, tmp_path and free ports), so the processes share nothing.

Both processes collect the whole suite in the same order and run it through this
module as a pytest plugin: before a test file's first test, a process claims the file
(an exclusive create in a shared folder), and it skips over files the other claimed.
So a process that finishes a file takes the next one nobody holds, and the two end
within about one file of each other, whatever the files' lengths (a split fixed by
directory left one process idle for a quarter of an hour). Heavy directories come
first, so the last files taken are short. Each process writes how many tests it ran;
the driver checks that together they ran every collected test exactly once.

Each process's output is printed whole when it ends; the exit status is the first
failing process's. Extra options go to both processes.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 2
CLAIMS = "PRAXIS_SHARD_CLAIMS"   # the shared folder of claims, set by the driver
SHARD = "PRAXIS_SHARD"           # this process's number
# Files of these folders first (the longest first), the quick unit tests last.
HEAVY_FIRST = ("tests/e2e/", "tests/integration/", "tests/deploy/", "tests/application/")


def _weight(path):
    for rank, folder in enumerate(HEAVY_FIRST):
        if path.startswith(folder):
            return rank
    return len(HEAVY_FIRST)


class FileQueue:
    """The pytest plugin each process runs: takes test files off the shared queue."""

    def __init__(self, folder, shard):
        self.folder, self.shard = Path(folder), shard
        self.ran = 0

    def claim(self, path):
        name = path.replace("/", "__")
        try:
            os.close(os.open(self.folder / f"{name}.claim", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return False
        return True

    def mine(self, items):
        files = {}
        for item in items:
            files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
        # A stable sort: within a folder, the largest files (most tests) first.
        for path in sorted(files, key=lambda p: (_weight(p), -len(files[p]))):
            if self.claim(path):
                yield from files[path]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} errors during collection")
        if session.config.option.collectonly:
            return True
        with open(self.folder / f"collected-{self.shard}", "w") as out:
            out.write(str(len(session.items)))
        taking = self.mine(session.items)
        item = next(taking, None)
        while item is not None:
            # The next test decides which fixtures the protocol tears down, so it is
            # taken (and its file claimed) before this one runs.
            following = next(taking, None)
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
            self.ran += 1
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
            item = following
        return True

    def pytest_unconfigure(self, config):
        with open(self.folder / f"ran-{self.shard}", "w") as out:
            out.write(str(self.ran))


def pytest_configure(config):
    if os.environ.get(CLAIMS):
        config.pluginmanager.register(
            FileQueue(os.environ[CLAIMS], os.environ.get(SHARD, "0")), "praxis-file-queue")


def main(extra):
    started = time.monotonic()
    running = {}
    with tempfile.TemporaryDirectory(prefix="praxis-shards-") as folder:
        for shard in range(PROCESSES):
            log = open(Path(folder) / f"shard-{shard}.log", "w+b")
            command = [sys.executable, "-m", "pytest", "-p", "tests.shards", *extra]
            print(f"[shard {shard}] {' '.join(command[1:])}", flush=True)
            environment = {**os.environ, CLAIMS: folder, SHARD: str(shard)}
            running[shard] = (subprocess.Popen(command, cwd=ROOT, stdout=log, env=environment,
                                               stderr=subprocess.STDOUT), log)
        status = 0
        while running:
            for shard, (process, log) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[shard]
                log.seek(0)
                sys.stdout.write(f"\n===== shard {shard}: exit {process.returncode} after "
                                 f"{time.monotonic() - started:.0f}s =====\n")
                sys.stdout.flush()
                sys.stdout.buffer.write(log.read())
                sys.stdout.flush()
                log.close()
                status = status or process.returncode
            time.sleep(1)
        status = status or _every_test_ran_once(Path(folder))
    print(f"\nsuite: exit {status} after {time.monotonic() - started:.0f}s", flush=True)
    return status


def _every_test_ran_once(folder):
    """1 unless the processes ran, together, exactly the tests each collected."""
    def counts(prefix):
        return [int((folder / f"{prefix}-{shard}").read_text())
                if (folder / f"{prefix}-{shard}").exists() else None
                for shard in range(PROCESSES)]
    collected, ran = counts("collected"), counts("ran")
    if None in collected or None in ran or len(set(collected)) != 1:
        # --collect-only, or a process stopped before its run (its status says why).
        return 0
    print(json.dumps({"collected": collected[0], "ran": ran}), flush=True)
    if sum(ran) != collected[0]:
        print(f"suite: the processes ran {sum(ran)} tests of {collected[0]} collected",
              flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
