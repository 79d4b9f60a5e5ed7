"""Recurring series: counts, end dates, every other week, and the wall clock across
daylight-saving changes (Europe/London and America/New_York, via zoneinfo)."""
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.domain import series
from shared.errors import Conflict, InvalidInput

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_weekly_for_a_count():
    starts = series.occurrences(utc(2024, 1, 2, 10), LONDON, "weekly", count=3)
    assert starts == [utc(2024, 1, 2, 10), utc(2024, 1, 9, 10), utc(2024, 1, 16, 10)]


def test_every_other_week_until_a_date_includes_that_date():
    starts = series.occurrences(utc(2024, 1, 2, 10), LONDON, "every_other_week",
                                until=date(2024, 1, 30))
    assert starts == [utc(2024, 1, 2, 10), utc(2024, 1, 16, 10), utc(2024, 1, 30, 10)]
    assert len(series.occurrences(utc(2024, 1, 2, 10), LONDON, "every_other_week",
                                  until=date(2024, 1, 29))) == 2


def test_until_the_first_day_is_one_occurrence_and_count_one_too():
    assert series.occurrences(utc(2024, 1, 2, 10), LONDON, "weekly",
                              until=date(2024, 1, 2)) == [utc(2024, 1, 2, 10)]
    assert series.occurrences(utc(2024, 1, 2, 10), LONDON, "weekly",
                              count=1) == [utc(2024, 1, 2, 10)]


def test_until_is_a_local_date():
    # 23:30 in New York on 9 January is 04:30 UTC on the 10th: until 9 January includes it.
    first = datetime(2024, 1, 2, 23, 30, tzinfo=NEW_YORK)
    starts = series.occurrences(first, NEW_YORK, "weekly", until=date(2024, 1, 9))
    assert len(starts) == 2 and starts[1] == utc(2024, 1, 10, 4, 30)


def test_a_weekly_series_keeps_its_local_time_across_the_spring_change():
    # Tuesdays 10:00 London; the clocks go forward on Sunday 31 March 2024.
    starts = series.occurrences(datetime(2024, 3, 19, 10, 0, tzinfo=LONDON), LONDON, "weekly",
                                count=4)
    assert starts == [utc(2024, 3, 19, 10), utc(2024, 3, 26, 10),
                      utc(2024, 4, 2, 9), utc(2024, 4, 9, 9)]
    assert {s.astimezone(LONDON).strftime("%a %H:%M") for s in starts} == {"Tue 10:00"}


def test_and_across_the_autumn_change():
    # Mondays 18:00 New York; the clocks go back on Sunday 3 November 2024.
    starts = series.occurrences(datetime(2024, 10, 28, 18, 0, tzinfo=NEW_YORK), NEW_YORK,
                                "weekly", count=2)
    assert starts == [utc(2024, 10, 28, 22), utc(2024, 11, 4, 23)]


def test_a_time_the_clocks_skip_moves_forward_and_a_doubled_time_is_the_first():
    # A Sunday 01:30 series in London: 31 March 2024 01:30 does not exist.
    first = datetime(2024, 3, 24, 1, 30, tzinfo=LONDON)
    starts = series.occurrences(first, LONDON, "weekly", count=3)
    assert starts[1] == utc(2024, 3, 31, 1, 30)  # read as 01:30 GMT = 02:30 BST
    assert starts[1].astimezone(LONDON).strftime("%H:%M") == "02:30"
    assert starts[2].astimezone(LONDON).strftime("%H:%M") == "01:30"
    # 27 October 2024 01:30 happens twice in London: the first (BST) one.
    first = datetime(2024, 10, 20, 1, 30, tzinfo=LONDON)
    starts = series.occurrences(first, LONDON, "weekly", count=2)
    assert starts[1] == utc(2024, 10, 27, 0, 30)


@pytest.mark.parametrize("kwargs, field", [
    ({"frequency": "monthly", "count": 3}, "frequency"),
    ({"count": 0}, "count"),
    ({"count": series.MAX_OCCURRENCES + 1}, "count"),
    ({"count": True}, "count"),
    ({"count": 3, "until": date(2024, 2, 1)}, "until"),  # both
    ({}, "count"),                                        # neither
    ({"until": date(2023, 12, 31)}, "until"),            # before the first
    ({"until": date(2030, 1, 1)}, "until"),              # too many
])
def test_bad_series_name_the_field(kwargs, field):
    kwargs = {"frequency": "weekly", **kwargs}
    with pytest.raises(InvalidInput) as caught:
        series.occurrences(utc(2024, 1, 2, 10), LONDON, **kwargs)
    assert field in caught.value.fields


def test_occurrence_ids_are_stable_per_series_and_index():
    series_id = str(uuid.uuid4())
    assert series.occurrence_id(series_id, 0) == series.occurrence_id(series_id, 0)
    assert series.occurrence_id(series_id, 0) != series.occurrence_id(series_id, 1)
    assert series.occurrence_id(series_id, 0) != series.occurrence_id(str(uuid.uuid4()), 0)


class Recorded:
    def __init__(self, new, sequence):
        self.name, self.data, self.sequence = new.name, new.data, sequence


def test_a_series_ends_once():
    series_id = str(uuid.uuid4())
    starts = series.occurrences(utc(2024, 1, 2, 10), LONDON, "weekly", count=3)
    booked = series.book_series(series_id, str(uuid.uuid4()), "dr-1", starts, 50, "video",
                                "individual", None, "weekly", 3, None, "Europe/London")
    assert booked[0].data["appointment_ids"] == [series.occurrence_id(series_id, i)
                                                 for i in range(3)]
    state = series.Series.from_events(series_id, [Recorded(booked[0], 1)])
    (ended,) = series.end_series(state, utc(2024, 1, 9), "moving away", utc(2024, 1, 5))
    assert ended.data["effective_from"] == "2024-01-09T00:00:00Z"
    state = series.Series.from_events(series_id, [Recorded(booked[0], 1), Recorded(ended, 2)])
    with pytest.raises(Conflict):
        series.end_series(state, utc(2024, 1, 9), None, utc(2024, 1, 5))
    with pytest.raises(Conflict):
        series.end_series(series.Series("never"), utc(2024, 1, 9), None, utc(2024, 1, 5))
    assert timedelta(0) == starts[0] - utc(2024, 1, 2, 10)
