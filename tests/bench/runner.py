"""Rounds, interleaving, medians, ratios, tables and the JSON record.

A figure has contenders (Praxis and its peers); each contender is a callable that
takes one sample and returns {metric: value}. Every round runs each figure's
contenders back to back, in an order rotated from round to round, so a drift of the
machine (another process, a warm cache) falls on all of them alike rather than on
whichever always ran first. The figure printed is the median of the rounds.
"""
import json
import os
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

PRAXIS = "praxis"


@dataclass
class Figure:
    name: str                  # "append 1/tx"
    unit: str                  # what each metric counts: "events/s" or "ms"
    contenders: dict           # {contender name: () -> {metric: value}}, Praxis first
    targets: dict = field(default_factory=dict)  # {(peer, metric): text to print}
    metrics: tuple = ("rate",)


def median(values):
    return statistics.median(values) if values else None


def run_rounds(figures, rounds, log=print):
    """Take `rounds` samples of every contender of every figure, interleaved.

    `figures` is {engine: [Figure]}; returns {engine: {figure: {contender: [sample]}}}.
    """
    samples = {engine: {f.name: {c: [] for c in f.contenders} for f in figs}
               for engine, figs in figures.items()}
    for number in range(rounds):
        for engine, figs in figures.items():
            for figure in figs:
                names = list(figure.contenders)
                shift = number % len(names)
                for name in names[shift:] + names[:shift]:
                    sample = figure.contenders[name]()
                    samples[engine][figure.name][name].append(sample)
                    log(f"  round {number + 1} {engine:<10} {figure.name:<22} {name:<14} "
                        + "  ".join(f"{m} {v:,.1f}" for m, v in sample.items()))
    return samples


def medians(samples):
    """{engine: {figure: {contender: {metric: median}}}}"""
    return {engine: {figure: {contender: {metric: median([s[metric] for s in taken])
                                          for metric in (taken[0] if taken else {})}
                              for contender, taken in by_contender.items()}
                     for figure, by_contender in by_figure.items()}
            for engine, by_figure in samples.items()}


def _number(value):
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def table(engine, figures, middle):
    """The figures of one engine: a row per (figure, metric, peer) with the ratio
    Praxis / peer and the target it will be held to."""
    lines = [f"{engine}",
             f"  {'figure':<22}{'metric':<8}{'unit':<10}{'Praxis':>12}  {'peer':<16}"
             f"{'peer value':>12}{'Praxis/peer':>13}  target"]
    for figure in figures:
        by_contender = middle[figure.name]
        peers = [c for c in figure.contenders if c != PRAXIS]
        for metric in figure.metrics:
            ours = by_contender[PRAXIS].get(metric)
            for index, peer in enumerate(peers or [None]):
                theirs = by_contender[peer].get(metric) if peer else None
                ratio = f"{ours / theirs:.2f}x" if ours is not None and theirs else "-"
                target = figure.targets.get((peer, metric), "")
                lead = (f"  {figure.name:<22}{metric:<8}{figure.unit:<10}{_number(ours):>12}"
                        if index == 0 else " " * 54)
                lines.append(f"{lead}  {peer or '':<16}{_number(theirs):>12}{ratio:>13}  "
                             f"{target}")
    return "\n".join(lines)


def git_short_sha():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_worktree_clean():
    """Whether the figures are those of the commit named (no uncommitted changes)."""
    try:
        return not subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return False


def write_record(record, directory="var/bench"):
    """Write the run to var/bench/<UTC time>-<git short sha>.json; return its path."""
    now = datetime.now(timezone.utc)
    path = Path(directory) / f"{now:%Y%m%dT%H%M%SZ}-{record['commit']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"time": now.isoformat(), **record}, indent=2, sort_keys=True))
    return path


def machine():
    return {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
