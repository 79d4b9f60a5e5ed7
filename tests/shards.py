"""`make test`: the whole suite as two pytest processes side by side.

Most of the suite waits on RabbitMQ, PostgreSQL and service processes rather than on
the CPU, so two processes finish it in far less time than one. pytest-xdist cannot
do this: its workers talk to the controller over real threads, which eventlet's
monkey-patching (tests/conftest.py) stalls. Every fixture already isolates a test
(its own vhost, database, tmp_path and free ports), so the shards share nothing.

The shards split by directory: tests/e2e (most of the time: four service processes
per engine), and everything else (so a new directory runs too). Each shard's output is printed whole when it ends; the exit
status is the first failing shard's. Extra options (not paths) go to both shards.
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARDS = {
    "e2e": ["tests/e2e"],
    "unit, application, integration, deploy": ["--ignore=tests/e2e"],
}


def main(extra):
    started = time.monotonic()
    running = {}
    with tempfile.TemporaryDirectory(prefix="praxis-shards-") as folder:
        for index, (name, args) in enumerate(SHARDS.items()):
            log = open(Path(folder) / f"shard-{index}.log", "w+b")
            command = [sys.executable, "-m", "pytest", *args, *extra]
            print(f"[{name}] {' '.join(command[1:])}", flush=True)
            running[name] = (subprocess.Popen(command, cwd=ROOT, stdout=log,
                                              stderr=subprocess.STDOUT), log)
        status = 0
        while running:
            for name, (process, log) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[name]
                log.seek(0)
                sys.stdout.write(f"\n===== shard [{name}]: exit {process.returncode} after "
                                 f"{time.monotonic() - started:.0f}s =====\n")
                sys.stdout.flush()
                sys.stdout.buffer.write(log.read())
                sys.stdout.flush()
                log.close()
                status = status or process.returncode
            time.sleep(1)
    print(f"\nsuite: exit {status} after {time.monotonic() - started:.0f}s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
