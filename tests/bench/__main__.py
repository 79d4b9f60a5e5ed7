"""`make bench` (python -m tests.bench): Praxis side by side with its peers.

Every figure on SQLite and on PostgreSQL (when one answers), three rounds with the
contenders interleaved, the median printed with the ratio Praxis / peer and the
target it will be held to; then query latency as billing's store grows. A JSON
record of every sample and median goes to var/bench/<UTC time>-<git short sha>.json.

Sizes (environment): BENCH_EVENTS (events a sample, default 2000), BENCH_ROUNDS (3),
BENCH_REBUILD_EVENTS (10000), BENCH_LATENCY_SECONDS (10), BENCH_LATENCY_RATES
("50,150"), BENCH_QUERY_SIZES ("10000,100000"; add 1000000 for the 1M figure: its
seeding runs the real projection over every event, at the rebuild figure's rate),
BENCH_QUERY_REPEATS (20 requests a query a round).
"""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from . import load, peers, praxis, queries  # noqa: E402
from .runner import (  # noqa: E402
    PRAXIS, Figure, git_short_sha, git_worktree_clean, machine, median, medians, run_rounds,
    table, write_record)
from .throwaway import databases, vhost  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", 2000))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
REBUILD_EVENTS = int(os.environ.get("BENCH_REBUILD_EVENTS", 10000))
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", 10))
LATENCY_RATES = [int(r) for r in os.environ.get("BENCH_LATENCY_RATES", "50,150").split(",")]
QUERY_SIZES = [int(s) for s in os.environ.get("BENCH_QUERY_SIZES", "10000,100000").split(",")]
QUERY_REPEATS = int(os.environ.get("BENCH_QUERY_REPEATS", 20))

LEGEND = """\
append N/tx   events/s appended, N to one stream per transaction, each with its outbox
              row: Praxis's EventStore unit of work / eventsourcing's Application.save /
              raw sqlite3 or psycopg2 inserts (WAL, synchronous as Praxis leaves it;
              PostgreSQL's default commit), a new database each sample
consumer      events/s of SessionHeld consumed in process, no broker, client known:
              billing's Application.consume (record, price, ChargeRecorded + outbox,
              read models) / a raw idempotent consumer (processed id + projection row +
              outbox row, one transaction each)
pipeline      events/s from the first SessionHeld appended to the last charge committed,
              through the broker: scheduling's store -> OutboxRelay -> billing's nameko
              service / raw append -> hand-written batched-confirm relay -> durable
              queue -> raw consumer (ack after commit; its charges relayed too;
              prefetch 100 where billing takes 1, both one consumer, in queue order)
rebuild       events/s replayed: billing's read models dropped and rebuilt from its store
              (`make rebuild`) / eventsourcing's notification log read in sections into
              an in-memory projection / raw select + json.loads + executemany
latency R/s   ms from a SessionHeld's scheduled send (open loop, R a second) to its
              charge's commit: Praxis's pipeline / the hand-written one
queries       ms a request (median) at each store size, and the largest / smallest:
              balance GET /clients/<id>/balance, charges GET /charges?clinic_id= (first
              page), events last page GET /events?after= (billing's last 100), directory
              intake's GET /clients (first page), billing start-up: container start to
              /readyz 200; stores seeded from one client's real history (queries.py)
Ratios are Praxis / peer: above 1 Praxis is faster for events/s, slower for ms."""


def figures_for(engine, url_factory, amqp_uri):
    """The figures of one engine, with the state a round hands on (the consumer's
    billing store is the one rebuilt)."""
    state = {}

    def praxis_consume():
        if "billing" in state and state["billing"] is not state.get("rebuilt"):
            state["billing"].store.engine.dispose()  # a round's store no figure needs
        state["billing"] = praxis.billing_application(url_factory())
        return praxis.consume(state["billing"], EVENTS)

    def raw_consume():
        if "raw" in state and state["raw"] is not state.get("raw rebuilt"):
            state["raw"].close()
        state["raw"] = peers.RawDatabase(url_factory())
        state["raw"].create_schema()
        return peers.raw_consume(state["raw"], EVENTS)

    def praxis_rebuild():
        if "rebuilt" not in state:  # the first round's consumer store, topped up once
            state["rebuilt"] = state["billing"]
            praxis.top_up(state["rebuilt"], REBUILD_EVENTS)
        return praxis.rebuild_rate(state["rebuilt"].store)

    def eventsourcing_replay():
        if "log" not in state:
            state["log"] = peers.eventsourcing_seeded(url_factory(), REBUILD_EVENTS)
        return peers.eventsourcing_replay(state["log"])

    def raw_rebuild():
        if "raw rebuilt" not in state:
            state["raw rebuilt"] = state["raw"]
            peers.raw_top_up(state["raw rebuilt"], REBUILD_EVENTS)
        return peers.raw_rebuild(state["raw rebuilt"])

    def pipeline(kind):
        def sample():
            with kind(url_factory, amqp_uri) as running:
                return load.throughput(running, EVENTS)
        return sample

    def latency(kind, rate):
        def sample():
            with kind(url_factory, amqp_uri) as running:
                return load.latency(running, rate, LATENCY_SECONDS)
        return sample

    consumer_target = ">= 1,500/s" if engine == "sqlite" else ">= 800/s"
    found = []
    for per in (1, 10):
        found.append(Figure(f"append {per}/tx", "events/s", {
            PRAXIS: lambda per=per: praxis.append(url_factory(), EVENTS, per),
            "eventsourcing": lambda per=per: peers.eventsourcing_append(
                url_factory(), EVENTS, per),
            "raw": lambda per=per: peers.raw_append(url_factory(), EVENTS, per)},
            targets={("eventsourcing", "rate"): ">= 1.0x"}))
    found += [
        Figure("consumer", "events/s", {PRAXIS: praxis_consume, "raw": raw_consume},
               targets={("raw", "rate"): f"Praxis {consumer_target}"}),
        Figure("pipeline", "events/s", {PRAXIS: pipeline(praxis.Pipeline),
                                        "hand-written": pipeline(peers.HandWrittenPipeline)},
               targets={("hand-written", "rate"): ">= 1.0x"}),
        Figure("rebuild", "events/s", {PRAXIS: praxis_rebuild,
                                       "eventsourcing": eventsourcing_replay,
                                       "raw": raw_rebuild},
               targets={("eventsourcing", "rate"): ">= 0.5x and Praxis >= 25,000/s"}),
    ]
    for rate in LATENCY_RATES:
        targets = {("hand-written", "p99"): "Praxis <= 25 ms"} \
            if engine == "postgresql" and rate == 150 else {}
        found.append(Figure(f"latency {rate}/s", "ms", {
            PRAXIS: latency(praxis.Pipeline, rate),
            "hand-written": latency(peers.HandWrittenPipeline, rate)},
            targets=targets, metrics=("p50", "p95", "p99")))
    return found


def query_latency(engine, url_factory, amqp_uri):
    """({size: {query: [ms a round]}}, {size: seconds seeding took}, its table)."""
    seeded, seeding = {}, {}
    for size in QUERY_SIZES:
        started = time.perf_counter()
        seeded[size] = (queries.seed_billing(url_factory, size),
                        queries.seed_intake(url_factory, size))
        seeding[size] = time.perf_counter() - started
        print(f"  seeded {engine} stores with {size:,} events in {seeding[size]:.0f} s",
              flush=True)
    taken = {size: {} for size in QUERY_SIZES}
    for number in range(ROUNDS):
        for size in QUERY_SIZES:
            billing, intake = seeded[size]
            for query, ms in queries.sample(billing, intake, amqp_uri, QUERY_REPEATS).items():
                taken[size].setdefault(query, []).append(ms)
            print(f"  round {number + 1} {engine:<10} queries at {size:,}: " + "  ".join(
                f"{q} {ms[-1]:.1f}" for q, ms in taken[size].items()), flush=True)
    smallest, largest = min(QUERY_SIZES), max(QUERY_SIZES)
    lines = [f"{engine}: query latency, ms (median of {ROUNDS} rounds)",
             f"  {'query':<18}" + "".join(f"{size:>12,}" for size in QUERY_SIZES)
             + f"{'largest/smallest':>18}  target"]
    for query in taken[smallest]:
        middle = [median(taken[size][query]) for size in QUERY_SIZES]
        lines.append(f"  {query:<18}" + "".join(f"{ms:>12.1f}" for ms in middle)
                     + f"{middle[-1] / middle[0]:>17.2f}x  "
                     + ("<= 1.5x at 1M" if largest >= 1_000_000 else "(1M: <= 1.5x)"))
    return taken, seeding, "\n".join(lines)


def main():
    print(f"Praxis side by side: {EVENTS} events a sample, {ROUNDS} rounds, "
          f"{os.cpu_count()} cores\n", flush=True)
    record = {"commit": git_short_sha(), "worktree_clean": git_worktree_clean(),
              "machine": machine(), "settings": {
        "events": EVENTS, "rounds": ROUNDS, "rebuild_events": REBUILD_EVENTS,
        "latency_seconds": LATENCY_SECONDS, "latency_rates": LATENCY_RATES,
        "query_sizes": QUERY_SIZES, "query_repeats": QUERY_REPEATS}}
    tables = []
    with databases() as factories, vhost() as amqp_uri:
        figures = {engine: figures_for(engine, factory, amqp_uri)
                   for engine, factory in factories.items()}
        samples = run_rounds(figures, ROUNDS, log=lambda line: print(line, flush=True))
        middle = medians(samples)
        record["figures"] = {"samples": samples, "medians": middle, "targets": {
            engine: {f.name: {f"{peer} {metric}": text for (peer, metric), text
                              in f.targets.items()} for f in figs}
            for engine, figs in figures.items()}}
        tables += [table(engine, figs, middle[engine]) for engine, figs in figures.items()]
        record["queries"] = {}
        for engine, factory in factories.items():
            taken, seeding, printed = query_latency(engine, factory, amqp_uri)
            record["queries"][engine] = {
                "samples": taken, "seeding_seconds": seeding,
                "medians": {size: {q: median(ms) for q, ms in by_query.items()}
                            for size, by_query in taken.items()}}
            tables.append(printed)
    print()
    print("\n\n".join(tables))
    print(f"\n{LEGEND}")
    print(f"\nwritten: {write_record(record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
