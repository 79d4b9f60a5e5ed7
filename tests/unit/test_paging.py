"""shared/paging.py: the one page shape (limit, next, total) from limit + 1 rows."""
from shared import paging


def test_offset_pages_say_the_next_offset_until_the_last():
    rows = list(range(7))
    seen, offset = [], 0
    while offset is not None:
        fetched = rows[offset:offset + 3 + 1]  # what a query with limit + 1 gives
        body = paging.offset_page("items", fetched, 3, offset, total=len(rows))
        assert body["limit"] == 3 and body["total"] == 7 and body["offset"] == offset
        seen += body["items"]
        offset = body["next"]
    assert seen == rows


def test_position_pages_say_the_last_position_until_the_end():
    rows = [{"position": p} for p in (2, 5, 9, 11)]
    seen, after = [], 0
    while after is not None:
        fetched = [r for r in rows if r["position"] > after][:2 + 1]
        body = paging.position_page("events", fetched, 2, lambda r: r["position"])
        assert "total" not in body
        seen += body["events"]
        after = body["next"]
    assert seen == rows
    assert paging.position_page("events", [], 2, lambda r: r)["next"] is None
