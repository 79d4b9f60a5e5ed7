"""Two commands at once, for the services' 409 tests (tests/integration/test_*_concurrency.py).

`at_once` runs commands in threads released together; `loads_meet` makes the loads
of a contested aggregate wait for each other, so both commands decide on the same
version and only the expected-version check can stop the second save (PostgreSQL
only: SQLite runs whole units of work one at a time, so a barrier would hang there).
"""
import threading

from shared.store import UnitOfWork


def at_once(*commands):
    """Each command in a thread of its own, all released together: what each returned,
    or the exception it raised, in the order given."""
    go = threading.Barrier(len(commands), timeout=30)
    outcomes = [None] * len(commands)

    def run(index, command):
        go.wait()
        try:
            outcomes[index] = command()
        except Exception as exc:  # noqa: BLE001 (the outcome under test)
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def loads_meet(monkeypatch, contested=lambda aggregate_type, key: True, parties=2):
    """From now on a `uow.get` of an aggregate `contested(type, key)` names waits, once
    it has loaded, until `parties` such loads have been made. The timeout only ends a
    run that would hang; it is generous, so a slow machine does not break it."""
    barrier = threading.Barrier(parties, timeout=60)
    loaded = UnitOfWork.get

    def get(uow, aggregate_type, *key):
        aggregate = loaded(uow, aggregate_type, *key)
        if contested(aggregate_type, key):
            barrier.wait()
        return aggregate

    monkeypatch.setattr(UnitOfWork, "get", get)
