"""The suite's two processes share one queue of test files (tests/shards.py):
every collected test runs exactly once, in one of the two, and a failure in
either fails the run."""
import subprocess
import sys
from pathlib import Path

from tests.shards import ROOT

BODY = '''
import os, time
def test_{n}_{i}():
    with open({log!r}, "a") as out:
        out.write(f"{{os.getpid()}} {n} {i}\\n")
    time.sleep(0.3)  # long enough that the other process takes files meanwhile
    assert {ok}
'''


def run(tmp_path, failing=None):
    log = tmp_path / "ran.log"
    for n in range(6):
        (tmp_path / f"test_file_{n}.py").write_text("".join(
            BODY.format(n=n, i=i, log=str(log), ok=(n, i) != failing) for i in range(3)))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run([sys.executable, "-m", "tests.shards", str(tmp_path),
                           "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = log.read_text().split() if log.exists() else []
    ran = [tuple(lines[k:k + 3]) for k in range(0, len(lines), 3)]
    return done, ran


def test_every_test_runs_once_and_both_processes_take_files(tmp_path):
    done, ran = run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = sorted((n, i) for _, n, i in ran)
    assert tests == sorted((str(n), str(i)) for n in range(6) for i in range(3))
    assert len({pid for pid, _, _ in ran}) == 2
    # A file is run whole by one process.
    assert all(len({pid for pid, n, _ in ran if n == file}) == 1 for file in map(str, range(6)))
    assert '"collected": 18' in done.stdout


def test_a_failure_in_either_process_fails_the_run(tmp_path):
    done, ran = run(tmp_path, failing=(4, 1))
    assert done.returncode != 0
    assert len(ran) == 18
    assert "1 failed" in done.stdout
