"""The reference subscriber (integrations/subscriber.py) against intake as a real
process: it catches up from history in small pages, is killed (-9) mid-stream while
clients keep being registered and renamed, resumes, and ends with every event of the
organisation exactly once, in order per stream (issue 16)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import ROOT
from tests.support import token, wait_until

pytestmark = pytest.mark.e2e

INTEGRATOR = token(role="integrator", clinics=["*"], user="warehouse")


def register(intake, number):
    response = intake.post("/clients", {
        "organisation_id": "org-1", "clinic_id": "clinic-1", "name": f"Client {number}",
        "date_of_birth": "1990-01-02", "contact": {"email": f"c{number}@example.org"}})
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


def rename(intake, client_id, name):
    response = intake.request("PATCH", f"/clients/{client_id}", json={"name": name})
    assert response.status_code == 200, response.text


def published(intake):
    """Every event intake published for org-1, in store order (the feed, all pages)."""
    events, after = [], 0
    while True:
        page = intake.get("/events", params={"after": after, "limit": 1000},
                          bearer=INTEGRATOR).json()
        events += [item["event"] for item in page["events"]]
        if page["next"] is None:
            return events
        after = page["next"]


def received(state):
    if not state.exists():
        return []  # the subscriber has not made its file yet
    with sqlite3.connect(state) as db:
        try:
            return db.execute("SELECT event_id, subject, sequence, via FROM events"
                              " ORDER BY received").fetchall()
        except sqlite3.OperationalError:
            return []  # its tables are being made


def start_subscriber(praxis, state, log, *extra):
    env = {**praxis.env, "PRAXIS_INTEGRATOR_TOKEN": INTEGRATOR}
    return subprocess.Popen(
        [sys.executable, "-m", "integrations.subscriber", "--service", "intake",
         "--url", praxis.urls["intake"], "--amqp-uri", praxis.env["PRAXIS_AMQP_URI"],
         "--organisation", "org-1", "--name", "warehouse", "--state", str(state),
         "--page-size", "2", *extra],
        cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


@pytest.mark.parametrize("praxis", ["sqlite"], indirect=True)
def test_history_then_live_survives_kill_9_with_every_event_once_in_order(praxis, tmp_path):
    intake = praxis.api("intake")
    state = tmp_path / "warehouse.db"
    clients = [register(intake, n) for n in range(6)]  # history before it ever ran
    for client_id in clients[:3]:
        rename(intake, client_id, "Renamed Before")

    log = tmp_path / "subscriber.log"
    first = start_subscriber(praxis, state, log)
    try:
        # live events while it catches up and follows
        for n in range(6, 12):
            clients.append(register(intake, n))
            rename(intake, clients[-1], f"Renamed Live {n}")
        wait_until(lambda: len(received(state)) >= 10, timeout=60,
                   message="the subscriber to store some events")
    finally:
        os.kill(first.pid, signal.SIGKILL)  # mid-stream: no clean shutdown
        first.wait()

    while_down = [register(intake, n) for n in range(12, 16)]
    for client_id in while_down:
        rename(intake, client_id, "Renamed While Down")
    expected = published(intake)
    names = [e["type"].split(".")[2] for e in expected]
    assert names.count("ClientRegistered") == 16 and names.count("ClientDetailsUpdated") == 13

    caught_up_before = log.read_text().count("caught up")
    second = start_subscriber(praxis, state, log)
    try:
        wait_until(lambda: log.read_text().count("caught up") > caught_up_before, timeout=90,
                   message="the subscriber to catch up after the crash")
        # it follows its queue now: these can only arrive live
        after_catch_up = [register(intake, n) for n in range(16, 19)]
        expected = published(intake)
        wait_until(lambda: len(received(state)) >= len(expected), timeout=60,
                   message="every event, history and live")
        time.sleep(2)  # let redeliveries of unacknowledged messages arrive too
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    output = log.read_text()[-3000:]
    rows = received(state)
    assert sorted(r[0] for r in rows) == sorted(e["id"] for e in expected), output
    assert len(rows) == len({r[0] for r in rows})  # exactly once
    last = {}
    for _, subject, sequence, _ in rows:
        assert sequence > last.get(subject, 0), f"{subject} out of order"
        last[subject] = sequence
    live = {r[1] for r in rows if r[3] == "live"}
    assert {f"client-{c}" for c in after_catch_up} <= live, output
