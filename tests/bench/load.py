"""Driving a pipeline (Praxis's or the hand-written one): as fast as it goes, or at
an offered rate for latency. A pipeline has append() -> the id of the SessionHeld it
appended, committed() -> how many charges are committed, and commit_times() ->
{SessionHeld id: wall-clock time its charge was written}."""
import statistics
import time

WAIT_SECONDS = 600


def wait_for(pipeline, count, started):
    while True:
        committed = pipeline.committed()
        if committed >= count:
            return
        if time.perf_counter() - started > WAIT_SECONDS:
            raise RuntimeError(f"only {committed} of {count} charges after {WAIT_SECONDS} s")
        time.sleep(0.05)


def throughput(pipeline, events):
    """events/s from the first append to the last charge committed."""
    started = time.perf_counter()
    for _ in range(events):
        pipeline.append()
    wait_for(pipeline, events, started)
    return {"rate": events / (time.perf_counter() - started)}


def latency(pipeline, rate, seconds):
    """p50/p95/p99 ms from each SessionHeld's scheduled send to its charge's commit,
    offered open-loop at `rate` per second: an append that falls behind its slot is
    counted from the slot, so a slow pipeline cannot hide its queueing."""
    count = max(1, int(rate * seconds))
    due = {}
    started, wall = time.perf_counter(), time.time()
    for number in range(count):
        slot = number / rate
        delay = started + slot - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        due[pipeline.append()] = wall + slot
    wait_for(pipeline, count, started)
    committed = pipeline.commit_times()
    milliseconds = sorted((committed[event_id] - sent) * 1000 for event_id, sent in due.items())
    cuts = statistics.quantiles(milliseconds, n=100, method="inclusive") \
        if len(milliseconds) > 1 else milliseconds * 99
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}
