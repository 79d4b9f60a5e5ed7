"""What tests/deploy evaluates: every dashboard target and every alert's measure.

Alerts follow one convention (see praxis.rules.yml): `<measure> <op> <threshold>`,
the comparison last and outside any parentheses. On a healthy system the whole
expression returns nothing, so the live test evaluates the measure, which must
return data. Dashboard targets use Grafana's variables; `substitute` gives them
the values a person would pick (every namespace, each service, every clinic)."""
import json
import re

import yaml

from tests.deploy.conftest import DASHBOARDS, RULES

COMPARISON = re.compile(r"^(?P<measure>.*?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<threshold>-?[0-9.]+)\s*$",
                        re.S)
SERVICES = ("intake", "scheduling", "notes", "billing")


def alerts():
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def split_alert(expr):
    """(measure, op, threshold) of `<measure> <op> <threshold>`; ValueError otherwise."""
    text = expr.strip()
    match = COMPARISON.match(text)
    if not match:
        raise ValueError(f"not <measure> <op> <threshold>: {text}")
    measure = match["measure"]
    depth = 0
    for char in measure:  # the comparison must sit outside every parenthesis
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"comparison inside parentheses: {text}")
    return measure, match["op"], float(match["threshold"])


def dashboards():
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def substitute(expr, **values):
    defaults = {"namespace": ".*", "clinic": ".*", "__rate_interval": "1m",
                "__interval": "15s", "__range": "1h"}
    defaults.update(values)
    out = expr
    for name in sorted(defaults, key=len, reverse=True):
        out = out.replace("${" + name + "}", defaults[name]).replace("$" + name, defaults[name])
    if "$" in out:
        raise ValueError(f"unsubstituted variable in {out}")
    return out


def dashboard_queries():
    """[(id, promql)] for every target of every dashboard, variables substituted;
    a dashboard with a $service variable is evaluated once per service."""
    queries = []
    for name, board in dashboards().items():
        variables = {v["name"] for v in board["templating"]["list"]}
        services = SERVICES if "service" in variables else (None,)
        for panel in board["panels"]:
            for target in panel["targets"]:
                for service in services:
                    values = {"service": service} if service else {}
                    label = f"{name}/{panel['title']}/{target['refId']}"
                    if service:
                        label += f"[{service}]"
                    queries.append((label, substitute(target["expr"], **values)))
    return queries


def alert_measures():
    return [(rule["alert"], split_alert(rule["expr"])[0]) for rule in alerts()]
