"""Alerts and dashboards, offline: promtool checks and unit tests the rules;
structure every alert and dashboard must have."""
import subprocess

import pytest
import yaml

from tests.deploy import promql
from tests.deploy.conftest import ROOT, RULE_TESTS, RULES, generate

ISSUE_ALERTS = {  # what issue 7 asks for -> the alert that does it
    "service down": "PraxisServiceDown",
    "HTTP error ratio": "PraxisHttpErrorRatioHigh",
    "handler failure ratio": "PraxisHandlerFailureRatioHigh",
    "dead-lettered messages": "PraxisEventsDeadLettered",
    "outbox backlog growing": "PraxisOutboxBacklogGrowing",
    "consumer lag": "PraxisConsumerLag",
    "projection lag": "PraxisProjectionLag",
    "reassessments overdue in a clinic": "PraxisReassessmentsOverdue",
}


def run(command):
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=120)


def test_promtool_check_rules(promtool):
    result = run([promtool, "check", "rules", RULES])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(promql.alerts())} rules found" in result.stdout


def test_promtool_unit_tests(promtool):
    result = run([promtool, "test", "rules", RULE_TESTS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules_fails_on_a_broken_rule(promtool, tmp_path):
    broken = RULES.read_text().replace("praxis_consumer_queue_messages) > 500",
                                       "praxis_consumer_queue_messages > 500")
    assert broken != RULES.read_text()
    (tmp_path / "broken.yml").write_text(broken)
    result = run([promtool, "check", "rules", tmp_path / "broken.yml"])
    assert result.returncode != 0


def test_promtool_unit_tests_fail_when_an_alert_changes(promtool, tmp_path):
    """A threshold raised past the test's data: the firing case fails."""
    (tmp_path / "praxis.rules.yml").write_text(
        RULES.read_text().replace("praxis_consumer_queue_messages) > 500",
                                  "praxis_consumer_queue_messages) > 5000"))
    (tmp_path / "praxis.rules.test.yml").write_text(RULE_TESTS.read_text())
    result = run([promtool, "test", "rules", tmp_path / "praxis.rules.test.yml"])
    assert result.returncode != 0 and "PraxisConsumerLag" in result.stdout + result.stderr


def test_every_alert_the_issue_asks_for_exists_and_is_unit_tested():
    names = {rule["alert"] for rule in promql.alerts()}
    assert set(ISSUE_ALERTS.values()) <= names
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for name in names:
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name}: no firing case"
        assert any(not case["exp_alerts"] for case in mine), f"{name}: no not-firing case"


@pytest.mark.parametrize("rule", promql.alerts(), ids=lambda r: r["alert"])
def test_alert_has_for_severity_runbook_and_a_measure(rule):
    assert rule.get("for"), "every alert waits before firing"
    assert rule["labels"]["severity"] in ("critical", "warning", "info")
    assert rule["annotations"]["runbook_url"].startswith(
        f"{generate.RUNBOOK_BASE}deploy/README.md#runbook-")
    assert "runbook" not in rule["annotations"], "one link: runbook_url"
    assert rule["annotations"]["summary"]
    measure, op, threshold = promql.split_alert(rule["expr"])
    assert measure and op and threshold is not None


def test_split_refuses_a_comparison_inside_parentheses():
    with pytest.raises(ValueError):
        promql.split_alert("(sum(x) > 1)")
    assert promql.split_alert("sum(x) > 1") == ("sum(x)", ">", 1.0)


def runbook(rule):
    """runbook_url -> (the file in the repository, its anchor)."""
    url = rule["annotations"]["runbook_url"]
    assert url.startswith(generate.RUNBOOK_BASE), url
    path, _, anchor = url[len(generate.RUNBOOK_BASE):].partition("#")
    return ROOT / path, anchor


def test_each_runbook_url_opens_the_runbook_of_its_alert():
    for rule in promql.alerts():
        path, anchor = runbook(rule)
        assert path.is_file(), path
        assert anchor == f"runbook-{rule['alert'].lower()}"
        assert f'<a id="{anchor}"></a>' in path.read_text(), anchor


def test_an_alert_without_a_runbook_url_is_not_generated(tmp_path, monkeypatch):
    rules = yaml.safe_load(RULES.read_text())
    del rules["groups"][0]["rules"][0]["annotations"]["runbook_url"]
    (tmp_path / "praxis.rules.yml").write_text(yaml.safe_dump(rules))
    monkeypatch.setattr(generate, "RULES_SOURCE", tmp_path / "praxis.rules.yml")
    with pytest.raises(SystemExit, match="runbook_url"):
        generate.prometheus_rule()


def test_promtool_unit_tests_expect_the_runbook_urls():
    """The promtool tests' expected annotations are the rules' own (no stale link)."""
    urls = {rule["alert"]: rule["annotations"]["runbook_url"] for rule in promql.alerts()}
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            for alert in case["exp_alerts"]:
                assert alert["exp_annotations"]["runbook_url"] == urls[case["alertname"]]


def test_prometheus_rule_carries_the_rule_file(rendered):
    source = yaml.safe_load(RULES.read_text())["groups"]
    for docs in rendered.values():
        (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
        assert rule["spec"]["groups"] == source


def test_dashboards_are_on_a_current_schema_version():
    """39 is Grafana 11's: an older one is migrated on every load and its panels may
    not survive an edit the same way."""
    for name, board in promql.dashboards().items():
        assert board["schemaVersion"] >= 39, name


def test_dashboards_have_stable_uids_and_a_datasource_variable():
    boards = promql.dashboards()
    assert sorted(board["uid"] for board in boards.values()) == [
        "praxis-overview", "praxis-practice", "praxis-service"]
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}", (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids))


def test_overview_and_practice_show_what_the_issue_asks():
    titles = {name: " | ".join(p["title"] for p in board["panels"]).lower()
              for name, board in promql.dashboards().items()}
    for words in ("events appended per second, by service and type", "5xx ratio",
                  "failure ratio", "latency"):
        assert words in titles["praxis-overview"], words
    for words in ("sessions held per day", "assessments per day", "reassessments due",
                  "notes overdue", "charges", "messages unread over a day, by clinician"):
        assert words in titles["praxis-practice"], words
    for words in ("requests per second", "errors", "latency"):
        assert words in titles["praxis-service"], words
