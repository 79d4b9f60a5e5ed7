"""make bench's runner: contenders interleaved in a rotated order each round, medians,
the ratio Praxis / peer and the JSON record (made-up samples: nothing here times
anything)."""
import json

from tests.bench.runner import Figure, medians, run_rounds, table, write_record


def recording(calls, name, values):
    values = iter(values)
    return lambda: calls.append(name) or {"rate": next(values)}


def test_each_round_rotates_the_order_of_contenders():
    calls = []
    figure = Figure("append 1/tx", "events/s", {
        "praxis": recording(calls, "praxis", [1, 2, 3]),
        "eventsourcing": recording(calls, "eventsourcing", [1, 2, 3]),
        "raw": recording(calls, "raw", [1, 2, 3])})
    run_rounds({"sqlite": [figure]}, 3, log=lambda line: None)
    assert calls == ["praxis", "eventsourcing", "raw",
                     "eventsourcing", "raw", "praxis",
                     "raw", "praxis", "eventsourcing"]


def test_the_table_prints_medians_the_ratio_and_the_target():
    calls = []
    figure = Figure("append 1/tx", "events/s", {
        "praxis": recording(calls, "praxis", [900, 1000, 5000]),
        "eventsourcing": recording(calls, "eventsourcing", [400, 500, 600])},
        targets={("eventsourcing", "rate"): ">= 1.0x"})
    samples = run_rounds({"sqlite": [figure]}, 3, log=lambda line: None)
    middle = medians(samples)
    assert middle["sqlite"]["append 1/tx"] == {"praxis": {"rate": 1000},
                                               "eventsourcing": {"rate": 500}}
    (row,) = [line for line in table("sqlite", [figure], middle["sqlite"]).splitlines()
              if "append" in line]
    assert "1,000" in row and "500" in row and "2.00x" in row and ">= 1.0x" in row


def test_the_record_is_written_under_its_commit(tmp_path):
    path = write_record({"commit": "abc1234", "figures": {"x": 1}}, directory=tmp_path)
    assert path.name.endswith("-abc1234.json")
    assert json.loads(path.read_text())["figures"] == {"x": 1}
