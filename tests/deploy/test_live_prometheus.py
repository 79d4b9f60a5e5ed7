"""The four services as real processes, scraped by a real Prometheus (Debian's
binary) every second while a workload runs: every dashboard target and every
alert's measure (see tests/deploy/promql.py) returns data through Prometheus's
HTTP API; each service's /metrics passes `promtool check metrics`; the server
loads the alert rules as they are."""
import os
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
import requests
import yaml

from tests.deploy import promql
from tests.deploy.conftest import RULES
from tests.e2e.conftest import Praxis
from tests.support import free_port, wait_until

pytestmark = pytest.mark.e2e

ORG, CLINIC = "org-1", "clinic-1"


class Workload(threading.Thread):
    """Client journeys, as in tests/e2e/test_journey.py, over and over until stopped:
    fee schedule, register, baseline, goal, four sessions held (charges in billing,
    ReassessmentDue to intake), reassessment, and a request for a missing record."""

    def __init__(self, praxis):
        super().__init__(daemon=True)
        self.praxis = praxis
        self.stopping = threading.Event()
        self.completed = 0
        self.errors = []

    def run(self):
        while not self.stopping.is_set():
            try:
                self.journey()
                self.completed += 1
            except Exception as exc:  # recorded; the fixture reports them if nothing completes
                self.errors.append(repr(exc))
                time.sleep(0.5)

    def until(self, call, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            response = call()
            if response.status_code in (200, 201):
                return response
            if time.monotonic() > deadline or self.stopping.is_set():
                raise AssertionError(f"{response.status_code} {response.text[:300]}")
            time.sleep(0.1)

    def journey(self):
        api = self.praxis.api
        intake, scheduling = api("intake"), api("scheduling")
        notes, billing = api("notes"), api("billing")
        # Reminders configured: the reminder panel reads the clinic's counts from zero.
        self.until(lambda: scheduling.put(f"/clinics/{CLINIC}", {
            "name": "Test Clinic", "reminder_hours_before": [48, 2]}))
        self.until(lambda: billing.put(f"/clinics/{CLINIC}/fee-schedule", {
            "currency": "USD", "prices": {"90832": 9000, "90834": 12000, "90837": 16000}}))
        client_id = self.until(lambda: intake.post("/clients", {
            "organisation_id": ORG, "clinic_id": CLINIC, "name": "Test Client",
            "date_of_birth": "1990-01-02", "contact": {"email": "client@example.org"}})
        ).json()["client_id"]
        self.until(lambda: intake.post(f"/clients/{client_id}/assessments", {
            "instrument": "PHQ-9", "answers": [2, 2, 2, 2, 2, 2, 1, 1, 0]}))
        self.until(lambda: notes.post(f"/clients/{client_id}/goals", {
            "description": "Sleep through the night", "target_date": "2027-03-01",
            "instrument": "PHQ-9", "target_score": 4}))
        clinician = f"clinician-{uuid.uuid4().hex[:8]}"
        start = datetime.now(timezone.utc) - timedelta(days=30)
        for number, minutes in enumerate((50, 45, 30, 60)):
            appointment = self.until(lambda: scheduling.post("/appointments", {
                "organisation_id": ORG, "clinic_id": CLINIC, "client_id": client_id,
                "clinician_id": clinician, "duration_minutes": 50, "modality": "in_person",
                "start": (start + timedelta(days=7 * number)).isoformat()})
            ).json()["appointment_id"]
            self.until(lambda: scheduling.post(f"/appointments/{appointment}/held",
                                               {"minutes": minutes}))
        self.until(lambda: intake.get(f"/clinics/{CLINIC}/reassessments/pending")
                   if any(p["client_id"] == client_id for p in intake.get(
                       f"/clinics/{CLINIC}/reassessments/pending").json().get("pending", []))
                   else requests.Response())
        self.until(lambda: intake.post(f"/clients/{client_id}/assessments", {
            "instrument": "PHQ-9", "answers": [1, 0, 1, 0, 1, 0, 0, 0, 0]}))
        billing.get(f"/clients/{uuid.uuid4()}/balance")  # a 404, so error panels see 4xx


def _vhost(amqp_base_uri):
    parsed = urlparse(amqp_base_uri)
    api = os.environ.get("PRAXIS_TEST_RABBIT_API", f"http://{parsed.hostname}:15672/api")
    auth = (parsed.username or "guest", parsed.password or "guest")
    name = f"praxis-deploy-{uuid.uuid4().hex[:12]}"
    try:
        requests.put(f"{api}/vhosts/{name}", auth=auth, timeout=5).raise_for_status()
        requests.put(f"{api}/permissions/{name}/{auth[0]}", auth=auth, timeout=5,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    except requests.RequestException as exc:
        pytest.skip(f"RabbitMQ management API at {api} is needed to make a test vhost: {exc}")
    uri = f"amqp://{auth[0]}:{auth[1]}@{parsed.hostname}:{parsed.port or 5672}/{name}"
    return uri, lambda: requests.delete(f"{api}/vhosts/{name}", auth=auth, timeout=10)


class Stack:
    def __init__(self, praxis, prometheus_url, workload):
        self.praxis, self.url, self.workload = praxis, prometheus_url, workload

    def query(self, expr):
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=30)
        body = response.json()
        assert body.get("status") == "success", f"{expr}: {body}"
        return body["data"]["result"]


@pytest.fixture(scope="module")
def stack(prometheus_tools, amqp_base_uri, tmp_path_factory):
    base = tmp_path_factory.mktemp("live")
    amqp_uri, drop_vhost = _vhost(amqp_base_uri)
    praxis = Praxis(amqp_uri, {s: f"sqlite:///{base}/{s}.db" for s in promql.SERVICES}, base)
    prometheus = workload = None
    try:
        for service in promql.SERVICES:
            praxis.start(service)
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{
                # the job names the ServiceMonitor gives: the Kubernetes Service names
                "job_name": f"praxis-{service}", "honor_labels": True,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [urlparse(url).netloc]}],
            } for service, url in praxis.urls.items()],
        }
        (base / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = open(base / "prometheus.log", "wb")
        prometheus = subprocess.Popen(
            [str(prometheus_tools / "prometheus"), f"--config.file={base / 'prometheus.yml'}",
             f"--storage.tsdb.path={base / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"

        def ready():
            assert prometheus.poll() is None, (base / "prometheus.log").read_text()[-3000:]
            try:
                return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_until(ready, timeout=60, message="prometheus ready")
        workload = Workload(praxis)
        workload.start()
        stack = Stack(praxis, url, workload)
        wait_until(lambda: workload.completed >= 2 or len(workload.errors) > 20, timeout=180,
                   interval=0.5, message="two journeys")
        assert workload.completed >= 2, f"the workload failed: {workload.errors[-5:]}"
        # every target scraped, and a few scrapes after the journeys for rates
        wait_until(lambda: len(stack.query('up{job=~"praxis-.+"} == 1')) == 4, timeout=30,
                   message="four targets up")
        time.sleep(5)
        yield stack
    finally:
        if workload is not None:
            workload.stopping.set()
            workload.join(timeout=30)
        if prometheus is not None:
            prometheus.terminate()
            try:
                prometheus.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prometheus.kill()
        for service in list(praxis.processes):
            praxis.stop(service)
        drop_vhost()


@pytest.mark.parametrize("name, expr", promql.dashboard_queries(), ids=lambda v: v
                         if "(" not in str(v) else "")
def test_dashboard_query_returns_data(stack, name, expr):
    result = stack.query(expr)
    assert result, f"{name}: no data for\n{expr}"


@pytest.mark.parametrize("alert, measure", promql.alert_measures(),
                         ids=[a for a, _ in promql.alert_measures()])
def test_alert_measure_returns_data(stack, alert, measure):
    result = stack.query(measure)
    assert result, f"{alert}: no data for its measure\n{measure}"


def test_no_alert_fires_on_a_healthy_system(stack):
    """The full expressions (measure and threshold) stay empty while all is well."""
    for rule in promql.alerts():
        if rule["alert"] == "PraxisReassessmentsOverdue":
            continue  # a practice signal, not health
        assert stack.query(rule["expr"]) == [], rule["alert"]


def test_prometheus_loaded_every_rule(stack):
    groups = requests.get(f"{stack.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert sorted(r["name"] for r in rules) == sorted(r["alert"] for r in promql.alerts())
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError"))
                                                      for r in rules if r["health"] != "ok"]


@pytest.mark.parametrize("service", promql.SERVICES)
def test_metrics_pass_promtool_check_metrics(stack, promtool, service):
    text = requests.get(f"{stack.praxis.urls[service]}/metrics", timeout=10).text
    assert "praxis_events_appended_total" in text
    result = subprocess.run([str(promtool), "check", "metrics"], input=text,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{service}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("service", promql.SERVICES)
def test_metrics_have_no_created_series(stack, service):
    """Counters and histograms export no `*_created` timestamps: a series per label set
    that no dashboard reads (shared/metrics.py turns them off)."""
    text = requests.get(f"{stack.praxis.urls[service]}/metrics", timeout=10).text
    samples = [line.split("{")[0].split(" ")[0] for line in text.splitlines()
               if line and not line.startswith("#")]
    assert any(name.endswith("_total") for name in samples)
    assert any(name.endswith("_bucket") for name in samples)
    assert [name for name in samples if name.endswith("_created")] == []
    assert stack.query('count({__name__=~".+_created", job=~"praxis-.+"})') == []


def test_promtool_check_metrics_fails_on_bad_names(promtool):
    bad = "# HELP praxis_latency_ms Latency.\n# TYPE praxis_latency_ms counter\npraxis_latency_ms 1\n"
    result = subprocess.run([str(promtool), "check", "metrics"], input=bad,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_a_query_with_a_wrong_metric_name_returns_nothing(stack):
    """The data checks above can fail: a misspelt metric has no data."""
    assert stack.query("sum by (service) (rate(praxis_event_appended_total[1m]))") == []
